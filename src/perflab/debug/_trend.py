"""Is a memory series growing? A robust slope (Theil-Sen) and a trend test (Mann-Kendall) that a
garbage collector's sawtooth and a warm-up do not fool.

A sawtooth's samples are strongly autocorrelated: a test on them sees every rising edge as a
trend. So the test runs on the sawtooth's floor: when the detrended series repeats with a period
(its autocorrelation peaks again after dipping below zero), the series is cut into blocks one
period long, counted back from the newest sample, and each block's minimum, the level after a
collection, is one point. A leak raises the floor from one period to the next; a sawtooth over a
flat floor does not. A period counts only where the series falls once a period or so: a steady
rise whose pace wobbles repeats too, but never falls, and its blocks' minima are only their first
samples. Without a period the samples themselves are tested, with the test's variance widened for
the lag-1 autocorrelation r left in them (the effective sample size of an AR(1) series of that
length, as Yue and Wang (2004) do). Where r is high (at least ``WANDERING_ACF``) the residual
wanders like a random walk's, which that correction cannot tell from no trend at all: a leak whose
pace follows the traffic is such a walk with a drift. Its steps are then the independent part, and
the test is whether their mean is above zero (Student's t); a walk without drift has none.

A verdict of leak needs all of: the test significant (one-sided, ``alpha``), the growth over the
window at least ``min_growth`` bytes (a few pages of noise are not a leak), and the newer half of
the floor still rising (at least a quarter of the whole slope: a cache that filled and stopped
is warm-up, not a leak). Fewer than four points to test is "not enough data": with three points
no order is significant at 5 %.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

LEAK = "leak"
NO_LEAK = "no leak"
NOT_ENOUGH = "not enough data"

MIN_POINTS = 4          # the fewest points a one-sided test at 5 % can call a trend (p = 1/24)
EXACT_UP_TO = 40        # exact Mann-Kendall distribution (no ties) up to this many points
MAX_PAIRS_POINTS = 600  # Theil-Sen over at most this many points (evenly thinned above)
PERIOD_MIN_ACF = 0.3    # an autocorrelation peak at least this high is a period
SATURATION = 0.25       # the newer half's slope must be at least this share of the whole's
WANDERING_ACF = 0.5     # a residual this autocorrelated wanders: its steps are tested instead
SAWTOOTH_DROP = 0.25    # a sawtooth's fall is at least this share of its detrended range


@dataclass(frozen=True, slots=True)
class Trend:
    """The verdict on one series, and how it was reached."""

    verdict: str                      # LEAK, NO_LEAK or NOT_ENOUGH
    slope_per_s: float                # Theil-Sen slope of the tested points (units per second)
    p_value: float | None             # one-sided Mann-Kendall p of an increasing trend
    points: int                       # how many points were tested
    period_s: float | None            # the sawtooth period found, if any
    growth: float                     # slope x the window tested
    reason: str                       # one line: why this verdict


def theil_sen(t: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """The median of pairwise slopes, and the median intercept (Sen, 1968)."""
    if len(t) < 2:  # a slope needs two points
        return 0.0, (y[0] if y else 0.0)
    if len(t) > MAX_PAIRS_POINTS:
        step = len(t) / MAX_PAIRS_POINTS
        keep = [int(i * step) for i in range(MAX_PAIRS_POINTS)]
        t, y = [t[i] for i in keep], [y[i] for i in keep]
    slopes = [(y[j] - y[i]) / (t[j] - t[i])
              for i in range(len(t)) for j in range(i + 1, len(t)) if t[j] != t[i]]
    slope = statistics.median(slopes) if slopes else 0.0
    intercept = statistics.median(yi - slope * ti for ti, yi in zip(t, y, strict=True))
    return slope, intercept


def mann_kendall(y: Sequence[float], *, autocorrelation: float = 0.0) -> tuple[int, float]:
    """Kendall's S of ``y`` against its order and the one-sided p-value of an increasing trend:
    exact (permutations by inversions) for a short series without ties, else the normal
    approximation with the ties' variance term and a continuity correction, its variance
    widened for a lag-1 autocorrelation r > 0 by n / n*, the effective sample size of an AR(1)
    series of length n (Yue and Wang, 2004)."""
    n = len(y)
    s = sum((y[j] > y[i]) - (y[j] < y[i]) for i in range(n) for j in range(i + 1, n))
    if n < 2:  # no pairs
        return 0, 1.0
    ties = _tie_groups(y)
    if not ties and n <= EXACT_UP_TO and autocorrelation <= 0:
        # S = pairs - 2 x inversions: P(S >= s) = P(inversions <= (pairs - s) / 2)
        pairs = n * (n - 1) // 2
        counts = _inversions(n)
        at_most = (pairs - s) // 2
        return s, sum(counts[: at_most + 1]) / math.factorial(n)
    var = (n * (n - 1) * (2 * n + 5) - sum(g * (g - 1) * (2 * g + 5) for g in ties)) / 18
    if autocorrelation > 0:
        r = min(autocorrelation, 0.95)
        var *= 1 + 2 * (r ** (n + 1) - n * r * r + (n - 1) * r) / (n * (r - 1) ** 2)
    if var <= 0:
        return s, 1.0
    z = (s - 1) / math.sqrt(var) if s > 0 else (s + 1) / math.sqrt(var) if s < 0 else 0.0
    return s, 0.5 * math.erfc(z / math.sqrt(2))


def step_test(y: Sequence[float]) -> tuple[int, float]:
    """How many steps ``y`` takes, and the one-sided p of a positive mean step (Student's t):
    a random walk's steps are independent, and a drift is their mean. The mean step of a
    stationary series is only (last - first) / steps, and its steps' spread is large (a
    sawtooth's falls, noise counted twice): the test is conservative there, where a count of
    rises is not (a sawtooth rises in many small steps and falls in few)."""
    from scipy.special import stdtr  # noqa: PLC0415  # Student's t, only for a wandering series

    steps = [b - a for a, b in itertools.pairwise(y)]
    mean = statistics.fmean(steps)
    spread = statistics.stdev(steps) if len(steps) > 1 else 0.0
    if spread == 0:  # every step the same: a line (rising or not), or a single step
        return len(steps), 0.0 if mean > 0 and len(steps) > 1 else 1.0
    t = mean / (spread / math.sqrt(len(steps)))
    return len(steps), float(stdtr(len(steps) - 1, -t))  # the upper tail, without 1 - x


def _tie_groups(y: Sequence[float]) -> list[int]:
    counts: dict[float, int] = {}
    for v in y:
        counts[v] = counts.get(v, 0) + 1
    return [c for c in counts.values() if c > 1]


@lru_cache(maxsize=EXACT_UP_TO + 1)
def _inversions(n: int) -> tuple[int, ...]:
    """How many permutations of n items have k inversions, for each k (Mahonian numbers)."""
    row = [1]
    for m in range(2, n + 1):
        nxt = [0] * (len(row) + m - 1)
        for k, c in enumerate(row):
            for extra in range(m):
                nxt[k + extra] += c
        row = nxt
    return tuple(row)


def lag1_autocorrelation(values: Sequence[float]) -> float:
    """The lag-1 autocorrelation of ``values`` (0 for fewer than three, or a constant)."""
    if len(values) < 3:
        return 0.0
    mean = statistics.fmean(values)
    dev = [v - mean for v in values]
    denom = sum(d * d for d in dev)
    if denom == 0:
        return 0.0
    return sum(a * b for a, b in itertools.pairwise(dev)) / denom


def dominant_period(t: Sequence[float], y: Sequence[float]) -> int | None:
    """The period, in samples, of a repeating pattern in ``y`` after its trend is removed: the
    first autocorrelation peak (at least ``PERIOD_MIN_ACF``) after the autocorrelation has gone
    below zero. None without one (or with fewer than two periods' worth of samples)."""
    n = len(y)
    if n < 8:  # two periods of at least four samples
        return None
    slope, intercept = theil_sen(t, y)
    resid = [yi - (slope * ti + intercept) for ti, yi in zip(t, y, strict=True)]
    mean = statistics.fmean(resid)
    dev = [r - mean for r in resid]
    denom = sum(d * d for d in dev)
    if denom == 0:
        return None
    acf = [sum(dev[i] * dev[i + k] for i in range(n - k)) / denom for k in range(n // 2 + 1)]
    crossed = False
    for k in range(1, len(acf) - 1):
        crossed = crossed or acf[k] < 0
        if crossed and acf[k] >= PERIOD_MIN_ACF and acf[k] >= acf[k - 1] and acf[k] >= acf[k + 1]:
            return k if _falls(y, resid) >= max(1, n // k // 2) else None
    return None


def _falls(y: Sequence[float], resid: Sequence[float]) -> int:
    """How often ``y`` falls by at least ``SAWTOOTH_DROP`` of its detrended range."""
    drop = SAWTOOTH_DROP * (max(resid) - min(resid))
    return sum(a - b >= drop for a, b in itertools.pairwise(y))


def floor_points(t: Sequence[float], y: Sequence[float],
                 period: int) -> tuple[list[float], list[float]]:
    """Each whole period's minimum (and its time), in blocks counted back from the newest sample;
    a partial oldest block is left out."""
    bt: list[float] = []
    by: list[float] = []
    end = len(y)
    while end - period >= 0:
        block = range(end - period, end)
        low = min(block, key=lambda i: y[i])
        bt.append(t[low])
        by.append(y[low])
        end -= period
    return bt[::-1], by[::-1]


def assess(t: Sequence[float], y: Sequence[float], *, min_growth: float,
           alpha: float = 0.05) -> Trend:
    """The verdict on samples ``y`` at times ``t`` (seconds), warm-up already left out."""
    if len(y) < MIN_POINTS:
        return Trend(NOT_ENOUGH, 0.0, None, len(y), None, 0.0,
                     f"{len(y)} samples; at least {MIN_POINTS} are needed")
    period = dominant_period(t, y)
    if period is not None and period > 1:
        pt, py = floor_points(t, y, period)
        period_s = (t[-1] - t[0]) / (len(t) - 1) * period
        what = f"the floor of a {period_s:.0f} s sawtooth"
        r1 = 0.0
    else:
        pt, py, period_s, what = list(t), list(y), None, "the level"
        slope0, icpt0 = theil_sen(t, y)
        r1 = lag1_autocorrelation([yi - (slope0 * ti + icpt0) for ti, yi in zip(t, y, strict=True)])
    if len(py) < MIN_POINTS:
        # with a period, say how long is enough; a leak lengthens a heap's period as the live
        # heap grows (a collection waits for it to double), so this is a lower bound
        needed = f" (at least {MIN_POINTS * period_s:.0f} s past the warm-up)" if period_s else ""
        return Trend(NOT_ENOUGH, 0.0, None, len(py), period_s, 0.0,
                     f"{len(py)} periods of {what.split(' of ')[-1]}; at least {MIN_POINTS} "
                     f"are needed: watch longer{needed}")
    slope, _ = theil_sen(pt, py)
    window = t[-1] - t[0]
    growth = slope * window
    if r1 >= WANDERING_ACF:
        steps, p = step_test(py)
        shown = f"p = {p:.2g}, t-test of its {steps} steps"
    else:
        _, p = mann_kendall(py, autocorrelation=r1)
        shown = f"p = {p:.2g}"
    if p >= alpha:
        return Trend(NO_LEAK, slope, p, len(py), period_s, growth,
                     f"no significant rise in {what} ({shown})")
    if growth < min_growth:
        return Trend(NO_LEAK, slope, p, len(py), period_s, growth,
                     f"{what} rises ({shown}) but by less than the minimum growth")
    half = len(pt) // 2
    newer, _ = theil_sen(pt[half:], py[half:])
    if newer < SATURATION * slope:
        return Trend(NO_LEAK, slope, p, len(py), period_s, growth,
                     f"{what} rose and levelled off (warm-up or a cache filling, not a leak)")
    return Trend(LEAK, slope, p, len(py), period_s, growth,
                 f"{what} rises steadily ({shown})")

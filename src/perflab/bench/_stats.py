"""Statistics of benchmark samples, computed the way benchstat computes them.

- A sample's centre is its median; its confidence interval is distribution-free: two order
  statistics chosen from the binomial distribution Bin(n, 1/2) (exact up to n = 30, a normal
  approximation with continuity correction above), left-biased when two choices tie.
- Two samples are compared with the two-sided Mann-Whitney U test: the exact null distribution
  for small samples (n <= 50 without ties, n <= 25 with ties, where the distribution is
  conditional on the tie pattern), the normal approximation with tie and continuity corrections
  above that.
- ``assume=exact`` units (sizes, counts) have no distribution: the centre is the mode and any
  difference is reported.

Every figure here is checked against benchstat's own golden outputs in the parity test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

# benchstat's defaults: 95 % intervals, differences significant when p < 0.05
DEFAULT_CONFIDENCE = 0.95
DEFAULT_ALPHA = 0.05

# Largest sample sizes for which the exact U distribution is computed (as benchstat does).
EXACT_LIMIT = 50
EXACT_LIMIT_TIES = 25
# Largest sample size for which the median's interval uses the exact binomial distribution.
_QUANTILE_EXACT_LIMIT = 30


@dataclass(frozen=True)
class Summary:
    """Centre of a sample and the confidence interval around it."""

    center: float
    lo: float
    hi: float
    confidence: float
    warnings: tuple[str, ...] = ()

    def pct_range(self) -> str:
        """The interval as benchstat prints it after ``±``: ``3%``, ``∞`` or ``?``."""
        if math.isinf(self.lo) or math.isinf(self.hi):
            return "∞"
        sign = _sign(self.center)
        if sign != _sign(self.lo) or sign != _sign(self.hi):
            return "?"
        if self.center == 0:
            return "0%"
        spread = max(self.hi / self.center - 1, 1 - self.lo / self.center)
        return f"{_round_half_even(100 * spread, 0)}%"


@dataclass(frozen=True)
class Comparison:
    """Result of testing whether two samples come from the same distribution."""

    p: float
    n1: int
    n2: int
    alpha: float
    warnings: tuple[str, ...] = field(default=())

    @property
    def significant(self) -> bool:
        return self.p <= self.alpha if self.p == 0 else self.p < self.alpha

    def describe(self) -> str:
        """``p=0.012 n=10`` (``n=10+8`` when sizes differ; no p for exact units)."""
        text = f"p={self.p:.3f} " if self.p != 0 else ""
        if self.n1 == self.n2:
            return f"{text}n={self.n1}"
        return f"{text}n={self.n1}+{self.n2}"

    def format_delta(self, old: float, new: float) -> str:
        """The change of the centre, or ``~`` when it is not significant."""
        if self.p > self.alpha:
            return "~"
        if old == new:
            return "0.00%"
        if old == 0:
            return "?"
        return f"{(new / old - 1.0) * 100.0:+.2f}%"


# --- summaries ----------------------------------------------------------------------------


def median(sorted_values: list[float]) -> float:
    n = len(sorted_values)
    mid = n // 2
    if n % 2:
        return sorted_values[mid]
    return (sorted_values[mid - 1] + sorted_values[mid]) / 2


@lru_cache(maxsize=256)
def median_ci_orders(n: int, confidence: float) -> tuple[int, int, float]:
    """1-based order statistics (lo, hi) bounding the median's interval, and its confidence.

    An order outside 1..n means that side of the interval is infinite (the sample is too small
    for the requested confidence).
    """
    if confidence >= 1:
        return 0, n + 1, 1.0
    if n <= _QUANTILE_EXACT_LIMIT:
        return _median_ci_exact(n, confidence)
    return _median_ci_normal(n, confidence)


def _binom_half_pmf(n: int, k: int) -> float:
    if k < 0 or k > n:
        return 0.0
    return math.comb(n, k) * 0.5**n


def _median_ci_exact(n: int, confidence: float) -> tuple[int, int, float]:
    # k = how many values fall below the population median ~ Bin(n, 1/2). Start at the mode
    # (the lower one when there are two) and grow the band [l, r) towards the likelier side,
    # preferring the left on ties, until it holds `confidence` of the mass.
    x = math.ceil((n + 1) * 0.5) - 1
    accum = _binom_half_pmf(n, x)
    lo, hi = x, x + 1
    lp, rp = _binom_half_pmf(n, lo - 1), _binom_half_pmf(n, hi)
    while accum < confidence and (lp > 0 or rp > 0):
        if lp >= rp:
            accum += lp
            lo -= 1
            lp = _binom_half_pmf(n, lo - 1)
        else:
            accum += rp
            hi += 1
            rp = _binom_half_pmf(n, hi)
    return max(lo, 0), min(hi, n + 1), accum


def _median_ci_normal(n: int, confidence: float) -> tuple[int, int, float]:
    mu = n * 0.5
    sigma = math.sqrt(n * 0.25)
    alpha = (1 - confidence) / 2
    l1 = mu + sigma * _std_normal_inv_cdf(alpha)
    r1 = 2 * mu - l1
    # point k of the binomial is the band [k-0.5, k+0.5] of the normal: round outwards
    lo = math.floor(math.floor(l1 - 0.5) + 0.5) + 1
    hi = math.floor(math.ceil(r1 - 0.5) + 0.5) + 1

    def mass(a: int, b: int) -> float:
        return _normal_cdf(b - 0.5, mu, sigma) - _normal_cdf(a - 0.5, mu, sigma)

    conf = mass(lo, hi)
    biased = mass(lo, hi - 1)
    if confidence <= biased < conf:
        conf, hi = biased, hi - 1
    if lo <= 0 and hi >= n + 1:
        conf = 1.0
    return max(lo, 0), min(hi, n + 1), conf


def median_samples_needed(confidence: float) -> tuple[str, int]:
    """The smallest n whose median interval is finite at ``confidence`` (``>=`` n)."""
    limit = 50
    for n in range(2, limit + 1):
        lo, hi, _ = median_ci_orders(n, confidence)
        if lo > 0 and hi <= n:
            return ">=", n
    return ">", limit


def summarize_median(values: list[float], confidence: float = DEFAULT_CONFIDENCE) -> Summary:
    """Median and its distribution-free confidence interval (``values`` need not be sorted)."""
    xs = sorted(values)
    n = len(xs)
    lo_order, hi_order, conf = median_ci_orders(n, confidence)
    lo = xs[lo_order - 1] if lo_order >= 1 else -math.inf
    hi = xs[hi_order - 1] if hi_order - 1 < n else math.inf
    warnings: tuple[str, ...] = ()
    if math.isinf(lo) or math.isinf(hi):
        op, need = median_samples_needed(confidence)
        warnings = (
            f"need {op} {need} samples for confidence interval at level {_go_float(confidence)}",
        )
    return Summary(median(xs), lo, hi, conf, warnings)


def summarize_exact(values: list[float]) -> Summary:
    """The mode of a sample that should have no spread; warns when the values differ."""
    xs = sorted(values)
    best, best_count = xs[0], 1
    cur, count = xs[0], 1
    for v in xs[1:]:
        if v == cur:
            count += 1
            if count > best_count:
                best, best_count = cur, count
        else:
            cur, count = v, 1
    warnings: tuple[str, ...] = ()
    if best_count != len(xs):
        warnings = (
            ("exact distribution expected, but values range from "
             f"{_go_float(xs[0])} to {_go_float(xs[-1])}"),
        )
    return Summary(best, xs[0], xs[-1], 1.0, warnings)


def summarize_mean(values: list[float], confidence: float = DEFAULT_CONFIDENCE) -> Summary:
    """``assume=normal`` units: the mean and its Student-t confidence interval."""
    n = len(values)
    mean = math.fsum(values) / n
    if n < 2:
        note = f"need >= 2 samples for confidence interval at level {_go_float(confidence)}"
        return Summary(mean, -math.inf, math.inf, confidence, (note,))
    from scipy.special import stdtrit  # noqa: PLC0415  # only for assume=normal units

    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    half = float(stdtrit(n - 1, (1 + confidence) / 2)) * sd / math.sqrt(n)
    return Summary(mean, mean - half, mean + half, confidence)


def compare_normal(old: list[float], new: list[float], alpha: float = DEFAULT_ALPHA
                   ) -> Comparison:
    """``assume=normal`` units: Welch's two-sample t-test (benchstat's choice for them)."""
    n1, n2 = len(old), len(new)
    if n1 < 2 or n2 < 2:
        return Comparison(1.0, n1, n2, alpha, ("need >= 2 samples for a t-test",))
    m1, m2 = math.fsum(old) / n1, math.fsum(new) / n2
    v1 = math.fsum((x - m1) ** 2 for x in old) / (n1 - 1)
    v2 = math.fsum((x - m2) ** 2 for x in new) / (n2 - 1)
    se2 = v1 / n1 + v2 / n2
    if se2 == 0:
        p = 1.0 if m1 == m2 else 0.0
        return Comparison(p, n1, n2, alpha, ("all samples are equal",) if m1 == m2 else ())
    df = se2**2 / ((v1 / n1) ** 2 / (n1 - 1) + (v2 / n2) ** 2 / (n2 - 1))
    t = (m1 - m2) / math.sqrt(se2)
    from scipy.special import stdtr  # noqa: PLC0415

    return Comparison(float(2 * stdtr(df, -abs(t))), n1, n2, alpha)


# --- comparisons --------------------------------------------------------------------------


@dataclass(frozen=True)
class UTest:
    u: float
    p: float


class SamplesEqual(ValueError):
    """Every value of both samples is the same: the U test says nothing."""


def mann_whitney_u(x1: list[float], x2: list[float]) -> UTest:
    """Two-sided Mann-Whitney U test of ``x1`` and ``x2``.

    Raises SamplesEqual when all values are equal and ValueError on an empty sample.
    """
    n1, n2 = len(x1), len(x2)
    if n1 == 0 or n2 == 0:
        raise ValueError("sample is empty")
    merged = sorted([(v, 0) for v in x1] + [(v, 1) for v in x2])
    # rank-sum of the first sample with mid-ranks for ties; tie group sizes kept for the
    # exact conditional distribution and for the tie correction of the normal approximation
    r1_twice = 0  # 2 * R1, an integer even with mid-ranks
    ties: list[int] = []
    i = 0
    total = len(merged)
    while i < total:
        j = i
        first_in_x1 = 0
        while j < total and merged[j][0] == merged[i][0]:
            if merged[j][1] == 0:
                first_in_x1 += 1
            j += 1
        # ranks i+1..j, mid-rank (i+1+j)/2
        r1_twice += (i + 1 + j) * first_in_x1
        ties.append(j - i)
        i = j
    has_ties = any(t > 1 for t in ties)
    u1_twice = r1_twice - n1 * (n1 + 1)
    u_twice = min(u1_twice, 2 * n1 * n2 - u1_twice)

    exact = (n1 <= EXACT_LIMIT and n2 <= EXACT_LIMIT) if not has_ties else (
        n1 <= EXACT_LIMIT_TIES and n2 <= EXACT_LIMIT_TIES
    )
    if exact:
        if len(ties) == 1:
            raise SamplesEqual("all samples are equal")
        p = _u_two_sided_twice(n1, n2, tuple(ties), u1_twice)
    else:
        t = float(sum(k * k * k - k for k in ties))
        n = float(n1 + n2)
        mu = n1 * n2 / 2
        sigma = math.sqrt(n1 * n2 * ((n + 1) - t / (n * (n - 1))) / 12)
        if sigma == 0:
            raise SamplesEqual("all samples are equal")
        numer = u_twice / 2 - mu
        numer -= math.copysign(0.5, numer) if numer != 0 else 0.0
        z = numer / sigma
        p = 2 * min(_normal_cdf(z, 0, 1), 1 - _normal_cdf(z, 0, 1))
    return UTest(u_twice / 2, min(p, 1.0))


@lru_cache(maxsize=4096)
def _u_distribution_twice(n1: int, n2: int, ties: tuple[int, ...]) -> NDArray[np.float64]:
    """P(2U = k) for k = 0..2*n1*n2 under the null, given the tie groups (in rank order).

    Every choice of which n1 of the n1+n2 ranked positions belong to the first sample is
    equally likely; a tie group of size t at mid-rank m adds k*m to the first sample's rank
    sum when k of its members are chosen, in comb(t, k) ways. Without ties this is the
    classical Mann-Whitney distribution.
    """
    width = 2 * n1 * (n1 + n2) + 1  # twice the largest possible rank sum, plus one
    # ways[c, s]: ways to choose c members so far with twice-rank-sum s (floats: C(100, 50)
    # exceeds int64, and relative rounding of 1e-16 is far below the 3 printed digits)
    ways = np.zeros((n1 + 1, width))
    ways[0, 0] = 1.0
    start = 0
    for size in ties:
        mid_twice = 2 * start + size + 1
        new = np.zeros_like(ways)
        for k in range(min(size, n1) + 1):
            shift = k * mid_twice
            if shift >= width:
                break
            new[k:, shift:] += math.comb(size, k) * ways[: n1 + 1 - k, : width - shift]
        ways = new
        start += size
    offset = n1 * (n1 + 1)
    probs = ways[n1, offset : offset + 2 * n1 * n2 + 1] / math.comb(n1 + n2, n1)
    probs.setflags(write=False)  # cached and shared: nobody may change it
    return probs


def _u_two_sided_twice(n1: int, n2: int, ties: tuple[int, ...], u1_twice: int) -> float:
    """P(|U - n1·n2/2| >= |u1 - n1·n2/2|) under the null.

    Without ties the distribution is symmetric and this is benchstat's 2·P(U <= min(U1, U2)).
    With ties it need not be symmetric, and doubling one tail can give p > 1 or, worse, p = 0
    for samples like [2, 2] vs [1] (no arrangement reaches U = 0, yet U2 = 0 was observed);
    counting both tails by distance from the centre stays a probability and never calls such a
    pair significant.
    """
    probs = _u_distribution_twice(n1, n2, ties)
    centre = n1 * n2  # twice the mean of U
    dist = abs(u1_twice - centre)
    # the tails are [0, centre - dist] and [centre + dist, 2·n1·n2]; they meet when dist = 0
    if dist == 0:
        return 1.0
    return float(probs[: centre - dist + 1].sum() + probs[centre + dist:].sum())


def compare_nothing(
    old: list[float], new: list[float], alpha: float = DEFAULT_ALPHA
) -> Comparison:
    """benchstat's default comparison: the U test, with the "need more samples" warning."""
    try:
        res = mann_whitney_u(old, new)
    except (SamplesEqual, ValueError) as exc:
        return Comparison(1.0, len(old), len(new), alpha, (str(exc),))
    warnings: tuple[str, ...] = ()
    if res.p > alpha:
        op, need = u_test_samples_needed(alpha)
        if len(old) < need and len(new) < need:
            warnings = (
                (f"need {op} {need} samples to detect a difference at alpha level "
                 f"{_go_float(alpha)}"),
            )
    return Comparison(res.p, len(old), len(new), alpha, warnings)


def compare_exact(old: list[float], new: list[float], alpha: float = DEFAULT_ALPHA) -> Comparison:
    """Exact units: any difference of the modes is real (p = 0)."""
    return Comparison(0.0, len(old), len(new), alpha)


@lru_cache(maxsize=64)
def u_test_min_p(n: int) -> float:
    """The smallest two-sided p the U test can give for two samples of size n."""
    return 2 / math.comb(2 * n, n) if n > 1 else 1.0


def u_test_samples_needed(alpha: float) -> tuple[str, int]:
    limit = 9
    for n in range(1, limit + 1):
        if u_test_min_p(n) <= alpha:
            return ">=", n
    return ">", limit


# --- family-wise correction and geomeans -------------------------------------------------


def holm_adjust(pvalues: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (same order as the input), capped at 1."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def geomean(values: list[float]) -> float:
    """Geometric mean; NaN when any value is <= 0 (benchstat then warns)."""
    if not values or any(v <= 0 for v in values):
        return math.nan
    return math.exp(math.fsum(math.log(v) for v in values) / len(values))


# --- helpers ------------------------------------------------------------------------------


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


def _round_half_even(x: float, digits: int) -> str:
    # Go's %.0f rounds the exact binary value half-to-even, as Python's format does.
    return f"{x:.{digits}f}"


def _normal_cdf(x: float, mu: float, sigma: float) -> float:
    return 0.5 * math.erfc(-(x - mu) / (sigma * math.sqrt(2)))


def _std_normal_inv_cdf(p: float) -> float:
    from statistics import NormalDist  # noqa: PLC0415  # only for n > 30 intervals

    return NormalDist().inv_cdf(p)


def _go_float(x: float) -> str:
    """A float as Go's ``%v`` prints it: shortest digits, exponent form outside [1e-4, 1e21)."""
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    if math.isnan(x):
        return "NaN"
    if x == 0:
        return "0"
    dec = Decimal(repr(x))
    sign, digits, exp = dec.as_tuple()
    assert isinstance(exp, int)
    sci = len(digits) - 1 + exp
    if -4 <= sci < 21:
        return format(dec.normalize(), "f")
    text = "".join(map(str, digits)).rstrip("0") or "0"
    body = text[0] + ("." + text[1:] if len(text) > 1 else "")
    return f"{'-' if sign else ''}{body}e{'+' if sci >= 0 else '-'}{abs(sci):02d}"

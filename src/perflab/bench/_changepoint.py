"""Change-point detection over a benchmark's history: E-divisive means, windowed, with a t-test.

This is the form Apache Otava (formerly Hunter, Fleming et al., ICPE 2023) uses, written anew:

1. *Split.* Slide a window (default 50 points, step half a window) over the series. Inside a
   window, E-divisive (Matteson & James 2014) proposes the split that maximises the energy
   statistic Q(X, Y) = 2/(n+m)·ΣΣ|x-y| - 2m/((n+m)(n-1))·Σ|x-x'| - 2n/((n+m)(m-1))·Σ|y-y'|,
   over every segment between change points already accepted; the best proposal is tested with
   Student's two-sample t-test between the values left and right of it (inside that segment).
   Accepted proposals split their segment and the search repeats; the first rejection ends the
   window. The split step tests at a relaxed level (10 x the final p-value threshold): its
   points are "weak" change points.
2. *Merge.* Over the whole series, repeatedly drop the weakest point (largest p-value; when all
   pass, the smallest relative change below ``min_magnitude``), re-testing its neighbours on the
   segments that remain, until every point passes both thresholds.
3. *Refine* (ours, not Otava's): move each surviving point, within its segment, to the split
   that best separates the two means, so the commit range names the commit that changed.

The t-test (not a permutation test) keeps this deterministic and fast: 200 points take
milliseconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

DEFAULT_WINDOW = 50
DEFAULT_MAX_PVALUE = 0.001
DEFAULT_MIN_MAGNITUDE = 0.0


@dataclass(frozen=True)
class ChangePoint:
    """A shift in level: ``index`` is the first point of the new regime."""

    index: int
    pvalue: float
    mean_before: float
    mean_after: float
    std_before: float
    std_after: float

    @property
    def rel_change(self) -> float:
        """(after - before) / before; 0 when the level before was 0."""
        if self.mean_before == 0:
            return 0.0
        return self.mean_after / self.mean_before - 1.0

    @property
    def magnitude(self) -> float:
        """The larger of the forward and backward relative change (symmetric in direction)."""
        back = self.mean_before / self.mean_after - 1.0 if self.mean_after != 0 else 0.0
        return max(abs(self.rel_change), abs(back))


def _t_test(left: NDArray[np.float64], right: NDArray[np.float64]) -> float:
    """Two-sided Student t-test p-value of equal means (1.0 when it cannot be computed)."""
    n1, n2 = len(left), len(right)
    if n1 + n2 - 2 <= 0 or n1 == 0 or n2 == 0:
        return 1.0
    m1, m2 = float(left.mean()), float(right.mean())
    ss = float(((left - m1) ** 2).sum() + ((right - m2) ** 2).sum())
    df = n1 + n2 - 2
    pooled = ss / df
    if pooled == 0:
        return 0.0 if m1 != m2 else 1.0
    t = (m1 - m2) / math.sqrt(pooled * (1 / n1 + 1 / n2))
    # scipy.special, not scipy.stats: the latter costs seconds to import on every CLI start
    from scipy.special import stdtr  # noqa: PLC0415

    return float(2 * stdtr(df, -abs(t)))


def _stats(series: NDArray[np.float64], lo: int, idx: int, hi: int) -> ChangePoint:
    left, right = series[lo:idx], series[idx:hi]
    return ChangePoint(
        index=idx,
        pvalue=_t_test(left, right),
        mean_before=float(left.mean()),
        mean_after=float(right.mean()),
        std_before=float(left.std(ddof=1)) if len(left) > 1 else 0.0,
        std_after=float(right.std(ddof=1)) if len(right) > 1 else 0.0,
    )


def _best_split(dist_prefix: NDArray[np.float64], lo: int, hi: int) -> tuple[int, float] | None:
    """The split tau in (lo, hi) maximising Q over every right end kappa in (tau, hi].

    ``dist_prefix`` is the 2-D prefix sum of pairwise |z_i - z_j| of the window, so each block
    sum is four lookups and the whole search is one vectorised expression.
    """
    if hi - lo < 2:
        return None
    taus = np.arange(lo + 1, hi)[:, None]
    kappas = np.arange(lo + 2, hi + 1)[None, :]
    valid = kappas > taus
    tau = np.broadcast_to(taus, valid.shape)
    kap = np.broadcast_to(kappas, valid.shape)

    def block(a: NDArray[np.int64] | int, b: NDArray[np.int64] | int,
              c: NDArray[np.int64] | int, d: NDArray[np.int64] | int) -> NDArray[np.float64]:
        p = dist_prefix
        return p[b, d] - p[a, d] - p[b, c] + p[a, c]  # type: ignore[no-any-return]

    kap_c = np.where(valid, kap, tau + 1)
    n = (tau - lo).astype(float)
    m = (kap_c - tau).astype(float)
    cross = block(lo, tau, tau, kap_c)
    within_x = block(lo, tau, lo, tau) / 2
    within_y = block(tau, kap_c, tau, kap_c) / 2
    total = n + m
    with np.errstate(divide="ignore", invalid="ignore"):
        q = (2 / total) * cross
        q -= np.where(n > 1, 2 * m / (total * (n - 1)) * within_x, 0.0)
        q -= np.where(m > 1, 2 * n / (total * (m - 1)) * within_y, 0.0)
    q = np.where(valid, q, -np.inf)
    i, _ = np.unravel_index(int(np.argmax(q)), q.shape)
    best = float(q.flat[int(np.argmax(q))])
    if not math.isfinite(best):
        return None
    return int(taus[i, 0]), best


def _segments(points: list[int], length: int) -> list[tuple[int, int]]:
    edges = [0, *sorted(points), length]
    return [(edges[i], edges[i + 1]) for i in range(len(edges) - 1)]


def _window_change_points(window: NDArray[np.float64], max_pvalue: float) -> list[int]:
    """E-divisive inside one window: accept the best split while its t-test passes."""
    d = np.abs(window[:, None] - window[None, :])
    prefix = np.zeros((len(window) + 1, len(window) + 1))
    prefix[1:, 1:] = d.cumsum(axis=0).cumsum(axis=1)
    points: list[int] = []
    while True:
        best: tuple[float, int, int, int] | None = None
        for lo, hi in _segments(points, len(window)):
            found = _best_split(prefix, lo, hi)
            if found is not None and (best is None or found[1] > best[0]):
                best = (found[1], found[0], lo, hi)
        if best is None:
            return points
        _, idx, lo, hi = best
        if _t_test(window[lo:idx], window[idx:hi]) > max_pvalue:
            return points
        points.append(idx)


def detect_change_points(
    values: list[float] | NDArray[np.float64],
    *,
    window: int = DEFAULT_WINDOW,
    max_pvalue: float = DEFAULT_MAX_PVALUE,
    min_magnitude: float = DEFAULT_MIN_MAGNITUDE,
) -> list[ChangePoint]:
    """Change points of ``values`` (one value per commit, oldest first)."""
    if window < 2:
        raise ValueError("window must be at least 2")
    series = np.asarray(values, dtype=np.float64)
    n = len(series)
    if n < 3:
        return []
    # split: weak change points at a relaxed threshold, from overlapping windows
    if max_pvalue < 0.05:
        relaxed = max_pvalue * 10
    elif max_pvalue < 0.5:
        relaxed = max_pvalue * 2
    else:
        relaxed = max_pvalue
    weak: set[int] = set()
    start = 0
    step = max(window // 2, 1)
    while start < n:
        end = min(start + window, n)
        found = [start + i for i in _window_change_points(series[start:end], relaxed)]
        weak.update(found)
        start = max(max(found, default=0), start + step)
    # merge: drop the weakest until every point passes the p-value and magnitude thresholds
    points = sorted(weak)
    cps = _restat(series, points)
    while cps:
        weakest = max(range(len(cps)), key=lambda i: cps[i].pvalue)
        if cps[weakest].pvalue < max_pvalue:
            weakest = min(range(len(cps)), key=lambda i: cps[i].magnitude)
            if cps[weakest].magnitude > min_magnitude:
                break
        del points[weakest]
        cps = _restat(series, points)
    if points:
        points = _refine(series, points, reach=max(window // 4, 2))
        cps = _restat(series, points)
    return cps


def _refine(series: NDArray[np.float64], points: list[int], reach: int) -> list[int]:
    """Move each point to the split of its segment that best separates two means.

    E-divisive proposes splits inside windows that may cut a regime short, so a point can sit a
    few commits off the true step. Within (previous point, next point) and at most ``reach``
    away, choose the index minimising the two-mean squared error (maximising
    n1·n2/n·(mean1 - mean2)²), twice over so neighbours settle together.
    """
    points = sorted(points)
    for _ in range(2):
        for k, idx in enumerate(points):
            lo = points[k - 1] if k > 0 else 0
            hi = points[k + 1] if k + 1 < len(points) else len(series)
            seg = series[lo:hi]
            csum = np.concatenate(([0.0], np.cumsum(seg)))
            n = len(seg)
            cands = np.arange(max(idx - reach, lo + 2), min(idx + reach, hi - 2) + 1)
            if len(cands) == 0:
                continue
            n1 = (cands - lo).astype(float)
            n2 = n - n1
            m1 = csum[cands - lo] / n1
            m2 = (csum[n] - csum[cands - lo]) / n2
            gain = n1 * n2 / n * (m1 - m2) ** 2
            points[k] = int(cands[int(np.argmax(gain))])
    return sorted(set(points))


def _restat(series: NDArray[np.float64], points: list[int]) -> list[ChangePoint]:
    edges = [0, *points, len(series)]
    return [_stats(series, edges[i], edges[i + 1], edges[i + 2]) for i in range(len(points))]

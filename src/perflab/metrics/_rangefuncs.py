"""PromQL's functions of a range vector, one stored series at a time, over every step at once.

Each function gets the series' samples (``ts`` in ms, ``v``) and, per step, the window of
samples it covers: indices ``[left, right)`` with ``mint <= ts <= maxt`` (Prometheus 2.x:
both ends included). It returns the value per step and where there is one. The arithmetic is
Prometheus's (``promql/functions.go``), in the same order, so the answers are the same to the
last bit where numpy does the same IEEE operations, and within a few ulps elsewhere.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from perflab.metrics._ast import PromQLError
from perflab.metrics._gocompat import kahan_inc
from perflab.metrics._values import BoolArray, FloatArray, IntArray


@dataclass(slots=True)
class Windows:
    """The windows of one series over the steps of an evaluation."""

    ts: IntArray        # sample times (ms)
    v: FloatArray       # sample values
    left: IntArray      # first sample index per step
    right: IntArray     # one past the last sample index per step
    mint: IntArray      # window start per step (ms)
    maxt: IntArray      # window end per step (ms)
    steps: IntArray     # evaluation time per step (ms): predict_linear's "now"
    range_ms: int

    @property
    def n(self) -> IntArray:
        return np.asarray(self.right - self.left)


Result = tuple[FloatArray, BoolArray]


def _pyvalues(w: Windows) -> list[float]:
    return [float(x) for x in w.v]


def _loop(w: Windows, fn: Callable[[list[float]], float], min_points: int = 1) -> Result:
    """Apply ``fn(values_list_slice)`` per step in Python (the exact, order-preserving path)."""
    n = w.n
    mask = n >= min_points
    out = np.zeros(len(n), dtype=np.float64)
    values = _pyvalues(w)
    for i in np.flatnonzero(mask):
        out[i] = fn(values[w.left[i]:w.right[i]])
    return out, mask


def go_sqrt(x: float) -> float:
    """Go's math.Sqrt: NaN for a negative number, not an exception."""
    return math.sqrt(x) if x >= 0 else (x if x == 0 else math.nan)


# -- rate, increase, delta --------------------------------------------------------------------

def extrapolated_rate(w: Windows, *, is_counter: bool, is_rate: bool) -> Result:
    n = w.n
    mask = n >= 2
    steps = len(n)
    if not mask.any():
        return np.zeros(steps), mask
    left = np.where(mask, w.left, 0)
    last_i = np.where(mask, w.right - 1, 0)
    first_v = w.v[left]
    last_v = w.v[last_i]
    result = last_v - first_v
    if is_counter and len(w.v) > 1:
        # resets: v[j] < v[j-1]; Prometheus adds the value before each reset, in order
        is_reset = np.concatenate(([False], w.v[1:] < w.v[:-1]))
        counts = np.cumsum(is_reset)
        in_window = counts[last_i] - counts[left]
        values = w.v
        for i in np.flatnonzero(mask & (in_window > 0)):
            total = float(result[i])
            for j in range(int(left[i]) + 1, int(last_i[i]) + 1):
                if values[j] < values[j - 1]:
                    total += float(values[j - 1])
            result[i] = total
    with np.errstate(all="ignore"):
        t_first = w.ts[left]
        t_last = w.ts[last_i]
        duration_to_start = (t_first - w.mint).astype(np.float64) / 1000
        duration_to_end = (w.maxt - t_last).astype(np.float64) / 1000
        sampled = (t_last - t_first).astype(np.float64) / 1000
        average = sampled / (n - 1).astype(np.float64)
        if is_counter:
            zero_ok = (result > 0) & (first_v >= 0)
            duration_to_zero = sampled * (first_v / result)
            duration_to_start = np.where(zero_ok & (duration_to_zero < duration_to_start),
                                         duration_to_zero, duration_to_start)
        threshold = average * 1.1
        extrapolate = sampled.copy()
        extrapolate += np.where(duration_to_start < threshold, duration_to_start, average / 2)
        extrapolate += np.where(duration_to_end < threshold, duration_to_end, average / 2)
        factor = extrapolate / sampled
        if is_rate:
            factor /= w.range_ms / 1000
        result = result * factor
    return result, mask


def instant_value(w: Windows, *, is_rate: bool) -> Result:
    n = w.n
    mask = n >= 2
    last_i = np.where(mask, w.right - 1, 1)
    prev_i = last_i - 1
    last_v, prev_v = w.v[last_i], w.v[prev_i]
    with np.errstate(all="ignore"):
        if is_rate:
            result = np.where(last_v < prev_v, last_v, last_v - prev_v)
            interval = (w.ts[last_i] - w.ts[prev_i]).astype(np.float64)
            result = result / (interval / 1000)
        else:
            result = last_v - prev_v
    return result, mask


# -- *_over_time ---------------------------------------------------------------------------------

def count_over_time(w: Windows) -> Result:
    n = w.n
    return n.astype(np.float64), n > 0


def present_over_time(w: Windows) -> Result:
    n = w.n
    return np.ones(len(n)), n > 0


def last_over_time(w: Windows) -> Result:
    n = w.n
    mask = n > 0
    return w.v[np.where(mask, w.right - 1, 0)] if len(w.v) else np.zeros(len(n)), mask


def _over_time(fold: Callable[[list[float]], float]) -> Callable[[Windows], Result]:
    """``<fold>_over_time``: the fold of each step's window of values, in order."""
    return lambda w: _loop(w, fold)


def _compensated(total: float, c: float) -> float:
    """A Kahan sum's result: an infinite total is returned as it is (Prometheus: inf + -inf
    compensation would be NaN)."""
    return total if math.isinf(total) else total + c


def _sum(values: list[float]) -> float:
    total = c = 0.0
    for v in values:
        total, c = kahan_inc(v, total, c)
    return _compensated(total, c)


def _avg(values: list[float]) -> float:
    mean = count = c = 0.0
    for v in values:
        count += 1
        if math.isinf(mean):
            if math.isinf(v) and (mean > 0) == (v > 0):
                continue
            if not math.isinf(v) and not math.isnan(v):
                continue
        mean, c = kahan_inc(v / count - mean / count, mean, c)
    return _compensated(mean, c)


def _extreme(sign: float) -> Callable[[list[float]], float]:
    """max (sign 1) or min (sign -1) of values, as Prometheus: a NaN is replaced by any value
    that follows it."""
    def fold(values: list[float]) -> float:
        best = values[0]
        for v in values:
            if sign * v > sign * best or math.isnan(best):
                best = v
        return best
    return fold


def _stdvar(values: list[float]) -> float:
    count = mean = c_mean = aux = c_aux = 0.0
    for v in values:
        count += 1
        delta = v - (mean + c_mean)
        mean, c_mean = kahan_inc(delta / count, mean, c_mean)
        aux, c_aux = kahan_inc(delta * (v - (mean + c_mean)), aux, c_aux)
    return (aux + c_aux) / count


sum_over_time = _over_time(_sum)
avg_over_time = _over_time(_avg)
max_over_time = _over_time(_extreme(1.0))
min_over_time = _over_time(_extreme(-1.0))
stdvar_over_time = _over_time(_stdvar)
stddev_over_time = _over_time(lambda vals: go_sqrt(_stdvar(vals)))


def quantile(q: float, values: list[float]) -> float:
    """Prometheus's ``quantile`` of plain values (the aggregation and ``quantile_over_time``)."""
    if not values or math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    ordered = sorted(values, key=lambda x: (not math.isnan(x), x if not math.isnan(x) else 0.0))
    n = float(len(ordered))
    rank = q * (n - 1)
    lower = max(0.0, math.floor(rank))
    upper = min(n - 1, lower + 1)
    weight = rank - math.floor(rank)
    return ordered[int(lower)] * (1 - weight) + ordered[int(upper)] * weight


def quantile_over_time(w: Windows, q: FloatArray) -> Result:
    n = w.n
    mask = n > 0
    out = np.zeros(len(n))
    values = _pyvalues(w)
    for i in np.flatnonzero(mask):
        out[i] = quantile(float(q[i]), values[w.left[i]:w.right[i]])
    return out, mask


def _count_steps(w: Windows, step: Callable[[FloatArray], BoolArray]) -> Result:
    """How many neighbouring pairs of each window ``step(v)`` marks (``step`` gets the whole
    values array and marks pair i-1, i at i - 1): ``changes`` and ``resets``."""
    n = w.n
    mask = n > 0
    v = w.v
    marked = np.zeros(len(v), dtype=np.int64)
    if len(v) > 1:
        marked[1:] = step(v)
    counts = np.cumsum(marked)
    left = np.where(mask, w.left, 0)
    last = np.where(mask, w.right - 1, 0)
    out = (counts[last] - counts[left]).astype(np.float64) if len(v) else np.zeros(len(n))
    return out, mask


def changes(w: Windows) -> Result:
    return _count_steps(
        w, lambda v: (v[1:] != v[:-1]) & ~(np.isnan(v[1:]) & np.isnan(v[:-1])))


def resets(w: Windows) -> Result:
    return _count_steps(w, lambda v: v[1:] < v[:-1])


def linear_regression(ts: list[int], values: list[float],
                      intercept_time: int) -> tuple[float, float]:
    n = 0.0
    sum_x = c_x = sum_y = c_y = sum_xy = c_xy = sum_x2 = c_x2 = 0.0
    init_y = values[0]
    const_y = True
    for i, (t, v) in enumerate(zip(ts, values, strict=True)):
        if const_y and i > 0 and v != init_y:
            const_y = False
        n += 1.0
        x = float(t - intercept_time) / 1e3
        sum_x, c_x = kahan_inc(x, sum_x, c_x)
        sum_y, c_y = kahan_inc(v, sum_y, c_y)
        sum_xy, c_xy = kahan_inc(x * v, sum_xy, c_xy)
        sum_x2, c_x2 = kahan_inc(x * x, sum_x2, c_x2)
    if const_y:
        if math.isinf(init_y):
            return math.nan, math.nan
        return 0.0, init_y
    sum_x += c_x
    sum_y += c_y
    sum_xy += c_xy
    sum_x2 += c_x2
    cov_xy = sum_xy - sum_x * sum_y / n
    var_x = sum_x2 - sum_x * sum_x / n
    try:
        slope = cov_xy / var_x
    except ZeroDivisionError:
        slope = math.nan if cov_xy == 0 or math.isnan(cov_xy) else math.copysign(math.inf, cov_xy)
    intercept = sum_y / n - slope * sum_x / n
    return slope, intercept


def deriv(w: Windows) -> Result:
    n = w.n
    mask = n >= 2
    out = np.zeros(len(n))
    ts = [int(t) for t in w.ts]
    values = _pyvalues(w)
    for i in np.flatnonzero(mask):
        lo, hi = int(w.left[i]), int(w.right[i])
        out[i] = linear_regression(ts[lo:hi], values[lo:hi], ts[lo])[0]
    return out, mask


def predict_linear(w: Windows, duration: FloatArray) -> Result:
    n = w.n
    mask = n >= 2
    out = np.zeros(len(n))
    ts = [int(t) for t in w.ts]
    values = _pyvalues(w)
    for i in np.flatnonzero(mask):
        lo, hi = int(w.left[i]), int(w.right[i])
        slope, intercept = linear_regression(ts[lo:hi], values[lo:hi], int(w.steps[i]))
        out[i] = slope * float(duration[i]) + intercept
    return out, mask


def holt_winters(w: Windows, sf_arr: FloatArray, tf_arr: FloatArray) -> Result:
    n = w.n
    out = np.zeros(len(n))
    values = _pyvalues(w)
    for i in np.flatnonzero(n > 0):
        sf, tf = float(sf_arr[i]), float(tf_arr[i])
        if not 0 < sf < 1:
            raise PromQLError(f"invalid smoothing factor. Expected: 0 < sf < 1, got: {sf:f}",
                              kind="execution")
        if not 0 < tf < 1:
            raise PromQLError(f"invalid trend factor. Expected: 0 < tf < 1, got: {tf:f}",
                              kind="execution")
    mask = n >= 2
    for i in np.flatnonzero(mask):
        sf, tf = float(sf_arr[i]), float(tf_arr[i])
        pts = values[w.left[i]:w.right[i]]
        s0 = 0.0
        s1 = pts[0]
        b = pts[1] - pts[0]
        for j in range(1, len(pts)):
            x = sf * pts[j]
            b = b if j - 1 == 0 else tf * (s1 - s0) + (1 - tf) * b
            y = (1 - sf) * (s1 + b)
            s0, s1 = s1, x + y
        out[i] = s1
    return out, mask

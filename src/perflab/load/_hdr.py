"""An HDR latency histogram: 3 significant digits from 1 µs to 1 h in fixed memory, mergeable.

The layout is HdrHistogram's (Gil Tene): values are integers (here microseconds); bucket ``b``
holds values ``[1024·2^b, 2048·2^b)`` in 1024 sub-buckets of width ``2^b``, so any value is
kept to within 1/1024 of itself. The counts are one numpy array of ~23 k int64 (184 KiB),
whatever the number of values recorded. Values are recorded in batches (numpy, no Python loop
per value): the load engine buffers raw latencies for a tick and hands them over at once.

Percentiles follow HdrHistogram's rule: the value at rank ``max(1, round(p/100 · n))``, reported
as the highest value equivalent to its bucket. Exact min, max and sum are kept beside the counts
so that ``max`` and ``mean`` are not rounded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

LOWEST_US = 1
HIGHEST_US = 3_600_000_000  # one hour
SIGNIFICANT_DIGITS = 3

# HdrHistogram's bucket configuration for (1, 1 h, 3 digits)
_SUB_BUCKET_COUNT_MAGNITUDE = math.ceil(math.log2(2 * 10**SIGNIFICANT_DIGITS))  # 11
SUB_BUCKET_COUNT = 1 << _SUB_BUCKET_COUNT_MAGNITUDE  # 2048
SUB_BUCKET_HALF_COUNT = SUB_BUCKET_COUNT // 2  # 1024
_HALF_MAG = _SUB_BUCKET_COUNT_MAGNITUDE - 1  # 10
_SUB_BUCKET_MASK = SUB_BUCKET_COUNT - 1


def _bucket_count() -> int:
    trackable, buckets = _SUB_BUCKET_MASK, 1
    while trackable < HIGHEST_US:
        trackable <<= 1
        buckets += 1
    return buckets


BUCKET_COUNT = _bucket_count()
COUNTS_LEN = (BUCKET_COUNT + 1) * SUB_BUCKET_HALF_COUNT

IntArray = npt.NDArray[np.int64]


def counts_index(values: IntArray) -> IntArray:
    """The counts-array index of each value (vectorised HdrHistogram ``counts_index_for``)."""
    # bit length of (v | mask): frexp's exponent is exact for integers below 2^53
    _, exp = np.frexp((values | _SUB_BUCKET_MASK).astype(np.float64))
    bucket = exp.astype(np.int64) - (_HALF_MAG + 1)
    sub_bucket = values >> bucket
    return ((bucket + 1) << _HALF_MAG) + (sub_bucket - SUB_BUCKET_HALF_COUNT)


def _value_from_index(index: IntArray) -> tuple[IntArray, IntArray]:
    """(lowest equivalent value, width of the bucket) of each counts index."""
    bucket = (index >> _HALF_MAG) - 1
    sub_bucket = (index & (SUB_BUCKET_HALF_COUNT - 1)) + SUB_BUCKET_HALF_COUNT
    first = bucket < 0
    sub_bucket = np.where(first, sub_bucket - SUB_BUCKET_HALF_COUNT, sub_bucket)
    bucket = np.where(first, 0, bucket)
    return sub_bucket << bucket, np.left_shift(1, bucket)


def highest_equivalent(index: IntArray) -> IntArray:
    low, width = _value_from_index(index)
    return low + width - 1


def median_equivalent(index: IntArray) -> IntArray:
    low, width = _value_from_index(index)
    return low + (width >> 1)


@dataclass(frozen=True, slots=True)
class Summary:
    """The figures a load summary shows, in milliseconds."""

    count: int
    min_ms: float
    mean_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    stdev_ms: float

    def to_json(self) -> dict[str, float | int]:
        return {"count": self.count, "min": self.min_ms, "mean": self.mean_ms,
                "p50": self.p50_ms, "p90": self.p90_ms, "p99": self.p99_ms,
                "p999": self.p999_ms, "max": self.max_ms, "stdev": self.stdev_ms}


class Histogram:
    """Counts of microsecond values; ``record_many`` in batches, ``merge`` across workers."""

    __slots__ = ("_max", "_min", "_sum", "counts", "total")

    def __init__(self) -> None:
        self.counts: IntArray = np.zeros(COUNTS_LEN, dtype=np.int64)
        self.total = 0
        self._sum = 0
        self._min = 0
        self._max = 0

    # -- recording -----------------------------------------------------------------------------

    def record_many(self, values_us: npt.ArrayLike) -> None:
        """Record integer microsecond values; below 1 µs counts as 0, above 1 h as 1 h."""
        v = np.asarray(values_us, dtype=np.int64)
        if v.size == 0:
            return
        v = np.clip(v, 0, HIGHEST_US)
        counted = np.bincount(counts_index(v))  # up to the largest index met, not all 23 k
        self.counts[:counted.size] += counted
        lo, hi = int(v.min()), int(v.max())
        self._min = lo if self.total == 0 else min(self._min, lo)
        self._max = max(self._max, hi)
        self.total += int(v.size)
        self._sum += int(v.sum())

    def record(self, value_us: int) -> None:
        self.record_many([value_us])

    def record_ns(self, values_ns: npt.ArrayLike) -> None:
        """Record nanosecond values (a load worker's raw arrays, read in place through the
        buffer protocol) as whole microseconds: ``value // 1000``."""
        v = np.asarray(values_ns, dtype=np.int64)
        if v.size:
            self.record_many(v // 1000)

    def merge(self, other: Histogram) -> None:
        """Add another histogram's values: the result is the histogram of the union."""
        if other.total == 0:
            return
        self.counts += other.counts
        self._min = other._min if self.total == 0 else min(self._min, other._min)
        self._max = max(self._max, other._max)
        self.total += other.total
        self._sum += other._sum

    def copy(self) -> Histogram:
        h = Histogram()
        h.merge(self)
        return h

    # -- reading -------------------------------------------------------------------------------

    @property
    def min(self) -> int:
        return self._min

    @property
    def max(self) -> int:
        return self._max

    @property
    def mean(self) -> float:
        return self._sum / self.total if self.total else math.nan

    def value_at_percentile(self, percentile: float) -> int:
        """HdrHistogram's value at a percentile (0-100), in µs; 0 when empty."""
        return int(self.values_at_percentiles([percentile])[0])

    def values_at_percentiles(self, percentiles: list[float]) -> IntArray:
        if self.total == 0:
            return np.zeros(len(percentiles), dtype=np.int64)
        cum = np.cumsum(self.counts)
        p = np.minimum(np.asarray(percentiles, dtype=np.float64), 100.0)
        ranks = np.maximum(1, np.floor(p / 100.0 * self.total + 0.5)).astype(np.int64)
        idx = np.searchsorted(cum, ranks, side="left").astype(np.int64)
        # never report above the exact maximum (the top bucket is wider than the value); the
        # 0th percentile is the exact minimum (HdrHistogram gives its bucket's lowest value)
        values = np.minimum(highest_equivalent(idx), self._max)
        return np.where(p <= 0.0, self._min, values)

    def stdev(self) -> float:
        if self.total == 0:
            return math.nan
        nz = np.nonzero(self.counts)[0].astype(np.int64)
        mids = median_equivalent(nz).astype(np.float64)
        dev = mids - self.mean
        return float(math.sqrt(float(np.sum(dev * dev * self.counts[nz])) / self.total))

    def summary(self) -> Summary:
        if self.total == 0:
            return Summary(0, *([math.nan] * 8))
        p50, p90, p99, p999 = (float(x) / 1000 for x in
                               self.values_at_percentiles([50, 90, 99, 99.9]))
        return Summary(self.total, self._min / 1000, self.mean / 1000, p50, p90, p99, p999,
                       self._max / 1000, self.stdev() / 1000)

    # -- exchange ------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A sparse, JSON-able form (what workers send and the store keeps)."""
        nz = np.nonzero(self.counts)[0]
        return {"unit": "us", "total": self.total, "sum": self._sum, "min": self._min,
                "max": self._max, "index": nz.tolist(), "count": self.counts[nz].tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Histogram:
        h = cls()
        if d["index"]:
            h.counts[np.asarray(d["index"], dtype=np.int64)] = np.asarray(d["count"],
                                                                          dtype=np.int64)
        h.total, h._sum, h._min, h._max = int(d["total"]), int(d["sum"]), int(d["min"]), int(
            d["max"])
        return h

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickled sparse (what a worker sends its parent each second): the non-zero counts
        only, not the 184 KiB array."""
        nz = np.nonzero(self.counts)[0]
        return _from_sparse, (nz, self.counts[nz], (self.total, self._sum, self._min, self._max))

    def __repr__(self) -> str:
        return f"Histogram(total={self.total}, min={self._min}us, max={self._max}us)"


def _from_sparse(index: IntArray, counts: IntArray, figures: tuple[int, int, int, int]
                 ) -> Histogram:
    h = Histogram()
    h.counts[index] = counts
    h.total, h._sum, h._min, h._max = figures  # noqa: SLF001  # the class's own reader
    return h

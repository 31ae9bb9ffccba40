"""The values PromQL evaluation passes around, and where samples come from.

An evaluation runs over a fixed grid of steps (one step for an instant query). An instant
vector is a list of ``Series``: each a label set with a value and a presence flag per step, as
numpy arrays, so that a day of 15 s steps is one array operation instead of 5,760 Python
iterations. A scalar is an array of values per step. Range vectors never exist as values: the
functions that take them read ``RawSeries`` (the stored samples) through per-step windows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

from perflab.metrics._labels import Labels

if TYPE_CHECKING:
    from collections.abc import Sequence

    from perflab.metrics._ast import Matcher

FloatArray = np.ndarray
BoolArray = np.ndarray
IntArray = np.ndarray

STALE_BITS = np.uint64(0x7FF0000000000002)  # Prometheus's staleness marker (value.StaleNaN)


@dataclass(slots=True)
class Series:
    """One series of an instant vector over the steps of an evaluation."""

    labels: Labels
    mask: BoolArray     # present at each step
    values: FloatArray  # its value there (anything where absent)


@dataclass(slots=True)
class RawSeries:
    """Stored samples of one series: times (ms, ascending), values; staleness markers are NaNs
    with Prometheus's payload, flagged in ``stale``."""

    labels: Labels
    ts: IntArray
    values: FloatArray
    stale: BoolArray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def __post_init__(self) -> None:
        if len(self.stale) != len(self.ts):
            self.stale = stale_mask(self.values)

    def without_stale(self) -> RawSeries:
        if not self.stale.any():
            return self
        keep = ~self.stale
        return RawSeries(self.labels, self.ts[keep], self.values[keep],
                         np.zeros(int(keep.sum()), dtype=bool))


def stale_mask(values: FloatArray) -> BoolArray:
    return np.asarray(values.view(np.uint64) == STALE_BITS)


def stale_value() -> float:
    return float(np.array([STALE_BITS], dtype=np.uint64).view(np.float64)[0])


class Queryable(Protocol):
    """Where an evaluation reads samples: the store, or memory (tests, ``rules test``)."""

    def select(self, matchers: Sequence[Matcher], mint: int, maxt: int) -> list[RawSeries]:
        """Every series the matchers select that has samples in [mint, maxt] (ms), with its
        samples there (more around them do no harm), sorted by labels."""
        ...


@dataclass(slots=True)
class MemoryQueryable:
    """Series held in memory (the PromQL test files, ``perflab rules test``)."""

    series: dict[Labels, tuple[list[int], list[float]]] = field(default_factory=dict)
    _frozen: dict[Labels, RawSeries] | None = None

    def add(self, labels: Labels, ts: int, value: float) -> None:
        times, values = self.series.setdefault(labels, ([], []))
        if times and ts <= times[-1]:
            # keep time order; a rewritten time replaces its value
            import bisect  # noqa: PLC0415

            i = bisect.bisect_left(times, ts)
            if i < len(times) and times[i] == ts:
                values[i] = value
            else:
                times.insert(i, ts)
                values.insert(i, value)
        else:
            times.append(ts)
            values.append(value)
        self._frozen = None

    def clear(self) -> None:
        self.series.clear()
        self._frozen = None

    def select(self, matchers: Sequence[Matcher], mint: int, maxt: int) -> list[RawSeries]:
        if self._frozen is None:
            self._frozen = {
                lab: RawSeries(lab, np.array(t, dtype=np.int64), np.array(v, dtype=np.float64))
                for lab, (t, v) in self.series.items()}
        out = []
        for labels, raw in self._frozen.items():
            values = dict(labels)
            if all(m.matches(values.get(m.name, "")) for m in matchers):
                lo = int(np.searchsorted(raw.ts, mint, "left"))
                hi = int(np.searchsorted(raw.ts, maxt, "right"))
                if hi > lo:
                    out.append(raw)
        out.sort(key=lambda r: r.labels)
        return out

"""A run's profile slices read as a timeline: where profiles exist, the functions of a range,
and what changed between two ranges.

This is what the hub's Profile panel, the report's profile section and the demo's findings
share; each range is the merge of the slices that overlap it (``profile_of_range``), so its
resolution is one slice.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from perflab.errors import NotFound, PerflabError
from perflab.profile._continuous import PROFILE_ARTIFACT
from perflab.profile._contracts import (
    FunctionShareJson,
    RangeProfileJson,
    ShareDeltaJson,
    SliceJson,
)
from perflab.profile._diff import share_changes
from perflab.profile._model import Profile, Sample
from perflab.profile._pprof import decode
from perflab.profile._top import build_graph, filter_samples

if TYPE_CHECKING:
    from perflab.store import Store

# Decoded slices and merged ranges, kept per process (the hub reads the same ranges again on
# every page view). A stored slice never changes, so (store file, artifact id) is its key; a
# range's key holds the ids of the slices it merged, so a slice added later makes a new key.
_SLICES_MAX = 2048
_RANGES_MAX = 32
_cache_lock = threading.Lock()
_slices: OrderedDict[tuple[str, int], Profile] = OrderedDict()
_ranges: OrderedDict[tuple[str, tuple[int, ...]], Profile] = OrderedDict()


@dataclass(frozen=True, slots=True)
class SliceInfo:
    """One stored slice: its window and what it holds (no profile data)."""

    artifact_id: int
    name: str  # the sample type: cpu, wall, offcpu ...
    start_ns: int
    end_ns: int
    backend: str
    pid: int | None
    samples: int
    total: int
    unit: str

    def to_json(self) -> SliceJson:
        return {"id": self.artifact_id, "name": self.name, "start_ns": self.start_ns,
                "end_ns": self.end_ns, "backend": self.backend, "pid": self.pid,
                "samples": self.samples, "total": self.total, "unit": self.unit}


def profile_slices(store: Store, run_id: int) -> list[SliceInfo]:
    """The run's slices in time order."""
    out = []
    for art in store.artifacts(run_id, PROFILE_ARTIFACT):
        a = art.attrs
        pid = a.get("pid")
        out.append(SliceInfo(art.id, art.name, art.ts_ns,
                             art.end_ns if art.end_ns is not None else art.ts_ns,
                             str(a.get("backend", "")), int(pid) if pid is not None else None,
                             int(a.get("samples", 0)), int(a.get("total", 0)),
                             str(a.get("unit", ""))))
    return out


@dataclass(frozen=True, slots=True)
class FunctionShare:
    """A function's own (self) and total (inclusive) share of a profile, 0..1."""

    name: str
    self_value: int
    total_value: int
    self_share: float
    total_share: float

    def to_json(self) -> FunctionShareJson:
        return {"name": self.name, "self": self.self_value, "total": self.total_value,
                "self_pct": round(100 * self.self_share, 3),
                "total_pct": round(100 * self.total_share, 3)}


def top_functions(prof: Profile, limit: int = 20) -> list[FunctionShare]:
    """The functions with the largest own share of the profile's default sample type."""
    index = prof.sample_index(None)
    total = prof.total(index) or 1
    nodes = build_graph(prof, filter_samples(prof, None, None, None), index)
    nodes.sort(key=lambda n: (-abs(n.flat), -abs(n.cum), n.name))
    return [FunctionShare(n.name, n.flat, n.cum, n.flat / total, n.cum / total)
            for n in nodes[:limit]]


@dataclass(frozen=True, slots=True)
class RangeProfile:
    """The merged profile of a time range and how many slices it came from."""

    start_ns: int | None
    end_ns: int | None
    slices: int
    profile: Profile

    def summary_json(self, limit: int = 20) -> RangeProfileJson:
        prof = self.profile
        index = prof.sample_index(None)
        st = prof.sample_types[index]
        return {"start_ns": self.start_ns, "end_ns": self.end_ns, "slices": self.slices,
                "sample_type": st.type, "unit": st.unit, "total": prof.total(index),
                "stacks": len(prof.samples),
                "functions": [f.to_json() for f in top_functions(prof, limit)]}


def range_profile(store: Store, run_id: int, start_ns: int | None = None,
                  end_ns: int | None = None, *, name: str | None = None,
                  pid: int | None = None) -> RangeProfile:
    """The profile of [start_ns, end_ns) of a run: every slice overlapping it (of one sample
    type ``name``, of one process ``pid`` when given), merged, equal stacks added up
    (NotFound when no slice overlaps it)."""
    picked = [s for s in profile_slices(store, run_id)
              if (start_ns is None or s.end_ns > start_ns)
              and (end_ns is None or s.start_ns < end_ns)
              and (name is None or s.name == name)
              and (pid is None or s.pid == pid)]
    if not picked:
        raise NotFound(f"run {run_id} has no profile slices in that range",
                       hint="record with --profile PID; `perflab show RUN` says where slices are")
    key = (str(store.path), tuple(s.artifact_id for s in picked))
    with _cache_lock:
        prof = _ranges.get(key)
        if prof is not None:
            _ranges.move_to_end(key)
    if prof is None:
        prof = merge_compact([_slice(store, s.artifact_id) for s in picked])
        with _cache_lock:
            _ranges[key] = prof
            while len(_ranges) > _RANGES_MAX:
                _ranges.popitem(last=False)
    return RangeProfile(start_ns, end_ns, len(picked), prof)


def _slice(store: Store, artifact_id: int) -> Profile:
    key = (str(store.path), artifact_id)
    with _cache_lock:
        prof = _slices.get(key)
        if prof is not None:
            _slices.move_to_end(key)
            return prof
    prof = decode(store.artifact_data(artifact_id), path=f"profile slice {artifact_id}")
    with _cache_lock:
        _slices[key] = prof
        while len(_slices) > _SLICES_MAX:
            _slices.popitem(last=False)
    return prof


def profile_of_range(store: Store, run_id: int, start_ns: int | None = None,
                     end_ns: int | None = None, *, name: str | None = None) -> Profile:
    """The merged profile of every slice of ``run_id`` overlapping [start_ns, end_ns)."""
    return range_profile(store, run_id, start_ns, end_ns, name=name).profile


def merge_compact(profiles: list[Profile]) -> Profile:
    """One profile of all, each distinct (stack, labels) once with its values added up; they
    must share their sample types (NotFound for none).

    A service runs the same few thousand stacks all day: an hour of 10 s slices holds ~100,000
    samples but only those stacks, and every later step (top, flame tree, diff) walks samples.
    """
    if not profiles:
        raise NotFound("no profiles to merge")
    first = profiles[0]
    out = Profile(sample_types=list(first.sample_types), period=first.period,
                  period_type=first.period_type, time_ns=min(p.time_ns for p in profiles),
                  default_sample_type=first.default_sample_type, main_module=first.main_module,
                  build_id=first.build_id)
    out.duration_ns = max(p.time_ns + p.duration_ns for p in profiles) - out.time_ns
    width = len(first.sample_types)
    acc: dict[tuple[tuple[int, ...], tuple[tuple[str, str], ...]], list[int]] = {}
    labelled: list[Sample] = []  # samples with numeric labels are kept as they are
    for p in profiles:
        if p.sample_types != first.sample_types:
            raise PerflabError("profiles with different sample types cannot be merged",
                               hint="select one kind of profile (cpu, wall, offcpu)")
        remap = [out.intern(f) for f in p.frames]
        for smp in p.samples:
            stack = tuple(remap[i] for i in smp.stack)
            if smp.num_labels:
                labelled.append(Sample(stack, list(smp.values), dict(smp.labels),
                                       dict(smp.num_labels)))
                continue
            k = (stack, tuple(sorted(smp.labels.items())) if smp.labels else ())
            values = acc.get(k)
            if values is None:
                acc[k] = list(smp.values)
            else:
                for j in range(width):
                    values[j] += smp.values[j]
    out.samples = [Sample(stack, values, dict(labels)) for (stack, labels), values in acc.items()]
    out.samples += labelled
    return out


@dataclass(frozen=True, slots=True)
class ShareDelta:
    """A function's own and total share in range A and range B, in percent."""

    name: str
    a_self_pct: float
    b_self_pct: float
    a_total_pct: float
    b_total_pct: float

    @property
    def self_delta_pp(self) -> float:
        return self.b_self_pct - self.a_self_pct

    @property
    def total_delta_pp(self) -> float:
        return self.b_total_pct - self.a_total_pct

    def to_json(self) -> ShareDeltaJson:
        return {"name": self.name, "a_self_pct": round(self.a_self_pct, 3),
                "b_self_pct": round(self.b_self_pct, 3),
                "a_total_pct": round(self.a_total_pct, 3),
                "b_total_pct": round(self.b_total_pct, 3),
                "self_delta_pp": round(self.self_delta_pp, 3),
                "total_delta_pp": round(self.total_delta_pp, 3)}


def range_changes(a: Profile, b: Profile, limit: int = 20) -> list[ShareDelta]:
    """The functions whose own share changed most from A to B (normalised by each total)."""
    changes = share_changes(a, b, a.sample_index(None), b.sample_index(None))
    return [ShareDelta(c.name, 100 * c.base_flat, 100 * c.new_flat, 100 * c.base_cum,
                       100 * c.new_cum) for c in changes[:limit]]

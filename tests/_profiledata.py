"""A run with a CPU chart and profile slices in two phases: ``calm_loop`` for the first 10 s,
``hot_checksum`` for the next 10 s (what `perflab record --profile` stores, written directly so
browser tests need no profiler)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from perflab.profile import Frame, Profile, SampleType, StoreSink
from perflab.store import BatchWriter, Store

S = 1_000_000_000
T0 = 1_790_000_000 * S


@dataclass(frozen=True)
class ProfileRun:
    path: Path
    run_id: int
    t0: int


def phase_profile(hot: str, n: int, t_ns: int) -> Profile:
    p = Profile(sample_types=[SampleType("samples", "count"), SampleType("cpu", "nanoseconds")],
                time_ns=t_ns, duration_ns=5 * S, default_sample_type="cpu")
    p.add([Frame(hot), Frame("handle"), Frame("main")], [n, n * 10_000_000])
    p.add([Frame("parse"), Frame("handle"), Frame("main")], [10, 100_000_000])
    return p


def build(path: Path) -> ProfileRun:
    with Store.open(path) as store:
        run = store.create_run("record", "profiled", started_ns=T0)
        w = BatchWriter(store, run.id)
        sid = w.series("system.cpu.pct", {"cpu": "all", "mode": "user"}, "%")
        pid_sid = w.series("process.cpu.pct", {"pid": "4242", "name": "svc"}, "%")
        for i in range(21):
            w.add(sid, T0 + i * S, 20.0 if i < 10 else 90.0)
            w.add(pid_sid, T0 + i * S, 15.0 if i < 10 else 85.0)
        w.flush()
        sink = StoreSink(str(path), run.id, pid=4242)
        for k in range(4):
            start = T0 + k * 5 * S
            hot = "calm_loop" if k < 2 else "hot_checksum"
            sink(start, start + 5 * S, phase_profile(hot, 30 if k < 2 else 90, start), "py-spy")
        sink.close()
        store.finish_run(run.id, "ok", ended_ns=T0 + 20 * S)
        return ProfileRun(path, run.id, T0)

"""The Profile panel's cost on a long run: an hour recorded with `record --profile` in 10 s
slices (360 slices of a Python service, ~1,000 samples and 300 distinct stacks each, drawn from the
service's 3,000 stacks), read
through the hub's profile API as the Run page does — the whole run, a 1-minute range, a diff of
two 1-minute ranges and a flame page — timed in this process's CPU time (shared machine).

    PYTHONPATH=src python benchmarks/bench_profile_range.py [--slices 360]

Prints one line per request: CPU milliseconds of the first call (slices decoded from the
store) and the median of the next 5 (the hub keeps decoded slices and merged ranges). The
whole run is asked first, as the Run page does when it opens.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import warnings
from pathlib import Path

from perflab.profile import Frame, Profile, SampleType, StoreSink
from perflab.store import Store
from perflab.web import AppConfig, create_app

S = 1_000_000_000


def service_stacks(rnd: random.Random, funcs: list[Frame], n: int) -> list[list[Frame]]:
    out = []
    for _ in range(n):
        depth = rnd.randint(5, 25)
        out.append([funcs[rnd.randrange(min(len(funcs), 3 + 4 * lvl))] for lvl in range(depth)])
    return out


def slice_profile(rnd: random.Random, stacks: list[list[Frame]], t_ns: int) -> Profile:
    p = Profile(sample_types=[SampleType("samples", "count"), SampleType("cpu", "nanoseconds")],
                time_ns=t_ns, duration_ns=10 * S, default_sample_type="cpu")
    for stack in rnd.sample(stacks, 300):
        n = rnd.randint(1, 6)
        p.add(stack, [n, n * 10_101_010])
    return p


def build(path: Path, n: int) -> tuple[int, int]:
    rnd = random.Random(3)
    funcs = [Frame(f"module{i % 40}.function_{i}", file=f"m{i % 40}.py", line=i)
             for i in range(1500)]
    stacks = service_stacks(rnd, funcs, 3000)
    t0 = 1_790_000_000 * S
    with Store.open(path) as store:
        run = store.create_run("record", "hour", started_ns=t0)
        sink = StoreSink(str(path), run.id, pid=4242)
        for k in range(n):
            start = t0 + k * 10 * S
            sink(start, start + 10 * S - S // 5, slice_profile(rnd, stacks, start), "py-spy")
        sink.close()
        store.finish_run(run.id, "ok", ended_ns=t0 + n * 10 * S)
        return run.id, t0


def cpu_ms(fn) -> tuple[float, float]:
    """(first call, median of the next 5), CPU milliseconds."""
    times = []
    for _ in range(6):
        c = time.process_time()
        fn()
        times.append((time.process_time() - c) * 1e3)
    return times[0], statistics.median(times[1:])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--slices", type=int, default=360)
    args = ap.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        run_id, t0 = build(path, args.slices)
        app = create_app(AppConfig(store_path=path, record=False, rollups=False))
        minute = f"start={t0 + 600 * S}&end={t0 + 660 * S}"
        diff = (f"a_start={t0 + 600 * S}&a_end={t0 + 660 * S}"
                f"&b_start={t0 + 1800 * S}&b_end={t0 + 1860 * S}")
        with TestClient(app) as c:
            def get(url: str) -> None:
                r = c.get(url)
                assert r.status_code == 200, r.text

            cases = [
                (f"whole run ({args.slices} slices)", f"/api/runs/{run_id}/profile"),
                ("slices list", f"/api/runs/{run_id}/profile/slices"),
                ("1-minute range (7 slices)", f"/api/runs/{run_id}/profile?{minute}"),
                ("diff of two 1-minute ranges", f"/api/runs/{run_id}/profile/diff?{diff}"),
                ("flame page, 1-minute range", f"/runs/{run_id}/flame?{minute}"),
                ("flame page, whole run", f"/runs/{run_id}/flame"),
            ]
            for name, url in cases:
                first, again = cpu_ms(lambda u=url: get(u))
                print(f"profile API {name}: first {first:.0f} ms CPU, then {again:.0f} ms "
                      "(median of 5)")


if __name__ == "__main__":
    main()

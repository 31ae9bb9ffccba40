"""`run_benchmarks(slices=N)`: every benchmark in each worker, each value in slices taken in turn.

What a comparison on a busy machine needs: load that comes and goes within a second then lands
on every benchmark alike (the demo's regression check uses it).
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from perflab.bench import _runner, _worker


class FakeClock:
    """A clock that only the benchmark functions move: each call costs its function's price."""

    def __init__(self) -> None:
        self.now = 0.0
        self.calls: list[str] = []

    def __call__(self) -> float:
        return self.now

    def function(self, name: str, cost: float):
        def fn() -> None:
            self.calls.append(name)
            self.now += cost

        return fn


def test_slices_are_taken_in_turn_and_the_order_flips_every_slice():
    clock = FakeClock()
    a, b = clock.function("A", 1.0), clock.function("B", 3.0)
    out = _worker.alternate([a, b], [1, 2], values=2, slices=3, warmups=1, clock=clock)
    # a value of B is 3 slices x 2 calls of 3 s: 3 s per call, whatever A did in between
    assert out == [[1.0, 1.0], [3.0, 3.0]]
    warmup, measured = clock.calls[:3 + 6], "".join(clock.calls[9:])
    assert warmup == ["A"] * 3 + ["B"] * 6  # loops x slices of each, before any value
    # A, BB | BB, A | A, BB: neither version always follows the other
    assert measured == "ABBBBAABB" + "BBAABBBBA"


def test_a_worker_per_batch_measures_every_benchmark_with_slices_calibrated_alone():
    specs: list[dict[str, Any]] = []

    def runner(spec: dict[str, Any]) -> dict[str, Any]:
        specs.append(spec)
        if spec["mode"] == "calibrate":
            return {"loops": 8 if spec["func"] == "bench_a" else 4, "elapsed": 0.004}
        n = len(specs)
        return {"values": [[n * 1.0] * spec["values"], [n * 2.0] * spec["values"]]}

    benches = [_runner.Benchmark("/x/bench_f.py", "bench_a"), _runner.Benchmark("/x/bench_f.py",
                                                                                 "bench_b")]
    a, b = _runner.run_benchmarks(benches, values=3, workers=2, min_time=0.02, clock="cpu",
                                  slices=5, runner=runner)
    calibrations = [s for s in specs if s["mode"] == "calibrate"]
    assert [s["min_time"] for s in calibrations] == [0.004, 0.004]  # a slice is 1/5 of a value
    workers = [s for s in specs if s["mode"] == "alternate"]
    assert len(workers) == 2
    assert workers[0]["benches"] == [["/x/bench_f.py", "bench_a"], ["/x/bench_f.py", "bench_b"]]
    assert workers[0]["loops"] == [8, 4]  # per slice
    assert (workers[0]["slices"], workers[0]["values"], workers[0]["clock"]) == (5, 3, "cpu")
    assert (a.loops, b.loops) == (40, 20)  # per value: the slices together
    assert a.values == [3.0] * 3 + [4.0] * 3
    assert b.values == [6.0] * 3 + [8.0] * 3


def test_slices_in_real_worker_processes(tmp_path: Path):
    f = tmp_path / "bench_two.py"
    f.write_text(textwrap.dedent("""
        def bench_short():
            sum(range(100))

        def bench_long():
            sum(range(400))
    """))
    benches = _runner.discover([str(f)])
    short, long_ = _runner.run_benchmarks(benches, values=2, workers=2, min_time=0.01,
                                          clock="cpu", slices=2)
    assert [m.bench.func for m in (short, long_)] == ["bench_short", "bench_long"]
    assert len(short.values) == len(long_.values) == 4
    assert all(v > 0 for v in short.values + long_.values)
    assert short.loops % 2 == 0  # whole slices

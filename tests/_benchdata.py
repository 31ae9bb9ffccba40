"""A bench history with known change points, for the hub's Benchmarks page and the report.

40 commits on main, one hour apart, 10 values each (±1 % noise, fixed seed):

- ``Encode/format=json-8`` sec/op: 1.0 µs, then 1.3 µs from commit 25 (a regression);
- ``Decode-8`` sec/op: 2.0 µs, then 1.5 µs from commit 15 (an improvement);
- ``Flat-8`` sec/op: 5.0 µs throughout; every benchmark also reports B/op (exact, flat).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from perflab.bench import Result, ResultSet, Value, record_results
from perflab.store import Store

T0 = 1_790_000_000 * 10**9
HOUR = 3600 * 10**9
N_COMMITS = 40
REGRESSION_AT = 25
IMPROVEMENT_AT = 15


def level(name: str, i: int) -> float:
    if name == "Encode/format=json-8":
        return 1.3e-6 if i >= REGRESSION_AT else 1.0e-6
    if name == "Decode-8":
        return 1.5e-6 if i >= IMPROVEMENT_AT else 2.0e-6
    return 5.0e-6


def commit(i: int) -> str:
    return f"{i:04x}" + "c0ffee" * 6


@dataclass(frozen=True)
class BenchData:
    path: Path
    run_ids: list[int]
    commits: list[str]


def build(path: Path, n: int = N_COMMITS) -> BenchData:
    rng = np.random.default_rng(11)
    run_ids = []
    with Store.open(path) as store:
        for i in range(n):
            rs = ResultSet(files=["r.txt"])
            rs.unit_meta[("B/op", "assume")] = "exact"
            for name in ("Encode/format=json-8", "Decode-8", "Flat-8"):
                for v in level(name, i) * (1 + rng.uniform(-0.01, 0.01, 10)):
                    rs.results.append(Result(name, (Value(float(v), "sec/op"),
                                                    Value(64.0, "B/op")), "r.txt"))
            run_id, _ = record_results(store, rs, commit=commit(i), branch="main",
                                       time_ns=T0 + i * HOUR, source="r.txt")
            run_ids.append(run_id)
    return BenchData(path, run_ids, [commit(i) for i in range(n)])

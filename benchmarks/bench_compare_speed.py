"""Time `perflab bench compare` on 1,000 benchmarks x 20 values per side (issue 5: <= 1 s).

Builds two Go benchmark files (old: noise only; new: every tenth benchmark 8 % slower), then
runs the whole compare pipeline in-process (parse, tables, U tests, text rendering and the
CI gate) and reports CPU time, which a shared machine does not inflate the way it does wall
time. Values are rounded to 0.1 ns as `go test` prints them, so ties occur as in real files.

    PYTHONPATH=src python benchmarks/bench_compare_speed.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from perflab.bench import Options, build_tables, judge, load, parse_gate, to_text

BENCHMARKS = 1000
VALUES = 20
LIMIT_S = 1.0


def write(path: Path, rng: np.random.Generator, *, slower: bool) -> None:
    lines = ["goos: linux", "goarch: amd64", "pkg: example.com/speed"]
    for b in range(BENCHMARKS):
        base = 100.0 * (1 + b % 37)
        factor = 1.08 if slower and b % 10 == 0 else 1.0
        lines.extend(f"BenchmarkOp{b}/size={b % 7}-8 \t 1000000\t {v:.1f} ns/op"
                     for v in base * factor * (1 + 0.02 * rng.standard_normal(VALUES)))
    path.write_text("\n".join(lines) + "\n")


def main() -> int:
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as d:
        old, new = Path(d) / "old.txt", Path(d) / "new.txt"
        write(old, rng, slower=False)
        write(new, rng, slower=True)
        best = float("inf")
        for _ in range(3):
            start = time.process_time()
            rs = load([str(old), str(new)])
            tables = build_tables(rs, Options())
            text = to_text(tables)
            verdicts = judge(tables, rs, parse_gate("regression>5%"))
            best = min(best, time.process_time() - start)
    regressions = sum(v.verdict == "regression" for v in verdicts)
    rows = sum(len(t.rows) for t in tables)
    print(f"compare {BENCHMARKS} benchmarks x {VALUES} values: cpu {best:.3f} s "
          f"(limit {LIMIT_S:.1f} s, ratio {best / LIMIT_S:.2f}); rows={rows} "
          f"regressions={regressions} output_lines={text.count(chr(10))}")
    return 0 if best <= LIMIT_S else 1


if __name__ == "__main__":
    sys.exit(main())

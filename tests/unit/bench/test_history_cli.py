"""`perflab bench record | history | regressions` against a real store file."""

from __future__ import annotations

import numpy as np
import pytest
from tests._schemas import validate

from perflab.cli import main
from perflab.store import Store


def record_history(tmp_path, store_path, capsys, *, n: int = 60, step_at: int | None = 40,
                   factor: float = 1.2) -> list[str]:
    rng = np.random.default_rng(5)
    commits = []
    for i in range(n):
        level = factor if step_at is not None and i >= step_at else 1.0
        values = 1000 * level * (1 + rng.uniform(-0.03, 0.03, 5))
        f = tmp_path / f"r{i}.txt"
        f.write_text("goos: linux\n" + "".join(f"BenchmarkEncode-8 100 {v:.1f} ns/op\t"
                                               f"64 B/op\n" for v in values))
        sha = f"{i:04x}" + "ab" * 18
        commits.append(sha)
        code = main(["bench", "record", str(f), "--commit", sha, "--branch", "main",
                     "--time", str(1_790_000_000 + i * 3600), "--store", str(store_path)])
        assert code == 0
    capsys.readouterr()
    return commits


def test_record_stores_every_value_and_the_raw_file(tmp_path, store_path, capsys):
    f = tmp_path / "r.txt"
    f.write_text("BenchmarkA 1 10 ns/op\nBenchmarkA 1 11 ns/op\nBenchmarkB 1 5 ns/op\n")
    code = main(["bench", "record", str(f), "--commit", "abc123", "--store", str(store_path),
                 "--json"])
    doc = validate(capsys.readouterr().out, "bench-record")
    assert code == 0
    assert (doc["benchmarks"], doc["values"]) == (2, 3)
    with Store.open(store_path) as store:
        run = store.run(doc["run_id"])
        assert run.kind == "bench"
        assert run.meta["commit"] == "abc123"
        (artifact,) = store.artifacts(run.id, "bench-results")
        assert store.artifact_data(artifact.id) == f.read_bytes()


def test_history_lists_medians_per_commit(tmp_path, store_path, capsys):
    commits = record_history(tmp_path, store_path, capsys, n=5, step_at=None)
    assert main(["bench", "history", "Encode-8", "--store", str(store_path), "--json"]) == 0
    doc = validate(capsys.readouterr().out, "bench-history")
    units = {b["unit"]: b for b in doc["benchmarks"]}
    assert set(units) == {"sec/op", "B/op"}
    assert [p["commit"] for p in units["sec/op"]["points"]] == commits
    assert all(p["n"] == 5 for p in units["sec/op"]["points"])
    assert main(["bench", "history", "--store", str(store_path)]) == 0
    out = capsys.readouterr().out
    assert "Encode-8 [sec/op]  5 commits" in out


def test_regressions_reports_the_commit_range_and_exits_1(tmp_path, store_path, capsys):
    commits = record_history(tmp_path, store_path, capsys)
    code = main(["bench", "regressions", "--store", str(store_path), "--json"])
    doc = validate(capsys.readouterr().out, "bench-regressions")
    assert code == 1
    (change,) = doc["changes"]
    assert change["bench"] == "Encode-8"
    assert change["unit"] == "sec/op"
    assert (change["from_commit"], change["to_commit"]) == (commits[39], commits[40])
    assert change["rel_change"] == pytest.approx(0.2, abs=0.03)
    assert change["pvalue"] < 0.001


def test_improvements_do_not_fail_and_since_filters(tmp_path, store_path, capsys):
    commits = record_history(tmp_path, store_path, capsys, factor=0.8)
    assert main(["bench", "regressions", "--store", str(store_path)]) == 0
    assert "improvement" in capsys.readouterr().out
    record_history(tmp_path, store_path, capsys)  # appends a second history (regression)
    assert main(["bench", "regressions", "--since", commits[-1][:8], "--store",
                 str(store_path)]) == 0


def test_single_point_history_is_explained_not_an_error(tmp_path, store_path, capsys):
    record_history(tmp_path, store_path, capsys, n=1, step_at=None)
    assert main(["bench", "regressions", "--store", str(store_path)]) == 0
    _, err = capsys.readouterr()
    assert "only 1 commit(s) recorded; change points need at least 3" in err


@pytest.mark.parametrize(("args", "message", "code"), [
    (["bench", "history", "Nope"], "no history for benchmark 'Nope'", 2),
    (["bench", "record", "missing.txt", "--commit", "x"], "no such file", 2),
    (["bench", "record", "EMPTY", "--commit", "x"], "no benchmark results found", 2),
    (["bench", "record", "GOOD", "--commit", "x", "--time", "yesterday"], "invalid --time", 2),
    (["bench", "record", "GOOD", "--commit", " "], "empty --commit", 2),
])
def test_bad_input_records_nothing(tmp_path, store_path, capsys, *, args, message, code):
    record_history(tmp_path, store_path, capsys, n=2, step_at=None)
    empty = tmp_path / "empty.txt"
    empty.write_text("PASS\n")
    good = tmp_path / "r0.txt"
    args = [str(empty) if a == "EMPTY" else str(good) if a == "GOOD" else a for a in args]
    with Store.open(store_path) as store:
        before = len(store.runs(kind="bench"))
    assert main([*args, "--store", str(store_path)]) == code
    assert message in capsys.readouterr().err
    with Store.open(store_path) as store:
        assert len(store.runs(kind="bench")) == before

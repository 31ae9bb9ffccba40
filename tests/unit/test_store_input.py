"""Hostile and out-of-range input to the store and its commands (issue 11, problems 4, 7, 8):
literal name filters, bounded lengths, numbers beyond int64, empty files, read-only opens."""

from __future__ import annotations

import json
import os

import pytest
from test_cli_runs import run_cli

from perflab.errors import InvalidValue, NotFound, StoreCorrupt, StoreUnwritable
from perflab.store import INT64_MAX, MAX_NAME_FILTER, Store
from perflab.store._schema import APPLICATION_ID

T0 = 1_795_000_000_000_000_000
S = 1_000_000_000


@pytest.fixture
def named(store_path):
    with Store.open(store_path) as st:
        for i, name in enumerate(["plain", "under_score", "fifty%off", "back\\slash"]):
            run = st.create_run("record", name, started_ns=T0 + i * S)
            sid = st.series_id(run.id, "system.load1")
            st.insert_samples([(sid, T0 + i * S, 1.0)])
            st.finish_run(run.id, "ok", ended_ns=T0 + i * S + S)
    return store_path


def _names(capsys, path, pattern: str) -> list[str]:
    code, out, err = run_cli(capsys, "runs", "--store", str(path), "--name", pattern, "--json")
    assert code == 0, err
    return sorted(r["name"] for r in json.loads(out)["runs"])


def test_name_filters_are_literal_not_like_patterns(capsys, named):
    assert _names(capsys, named, "_") == ["under_score"]
    assert _names(capsys, named, "%") == ["fifty%off"]
    assert _names(capsys, named, "\\") == ["back\\slash"]
    assert _names(capsys, named, "a") == ["back\\slash", "plain"]
    assert _names(capsys, named, "PLAIN") == ["plain"]  # still case-insensitive (ASCII)
    with Store.open(named, create=False) as st:
        assert [r.name for r in st.runs(name="r_s")] == ["under_score"]
        assert st.runs(name="f%o") == []


def test_a_60000_character_name_filter_is_a_clear_usage_error(capsys, named):
    code, _, err = run_cli(capsys, "runs", "--store", str(named), "--name", "x" * 60_000)
    assert code == 2
    assert err.startswith("perflab: error: the name filter is 60,000 characters long")
    assert len(err.splitlines()) == 2
    assert len(err) < 400
    with Store.open(named, create=False) as st, pytest.raises(InvalidValue):
        st.runs(name="y" * (MAX_NAME_FILTER + 1))


@pytest.mark.parametrize("argv", [
    ["show", "99999999999999999999"],
    ["report", "99999999999999999999"],
    ["query", "99999999999999999999", "system.load1"],
    ["query", "1", "system.load1", "--since", "99999999999999999999"],
    ["query", "1", "system.load1", "--until", "99999999999999999999"],
    ["query", "1", "system.load1", "--since", "9999-12-31T23:59:59Z"],
    ["query", "1", "system.load1", "--since", "--5"],
])
def test_numbers_beyond_int64_are_one_line_usage_errors(capsys, named, argv, tmp_path,
                                                        monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(capsys, *argv, "--store", str(named))
    assert code == 2, err
    assert err.startswith("perflab: error: ")
    assert "Traceback" not in err
    assert len(err.splitlines()) <= 2


def test_run_ids_are_ascii_digits_only(named):
    with Store.open(named, create=False) as st:
        assert st.run("1").name == "plain"
        with pytest.raises(NotFound):
            st.run("\u0661")  # ARABIC-INDIC DIGIT ONE: a name, and there is no run of that name
        with pytest.raises(NotFound):
            st.run(2**64)
        with pytest.raises(NotFound):
            st.series_by_id(2**64)


def test_time_bounds_beyond_int64_are_clamped_by_the_store(named):
    with Store.open(named, create=False) as st:
        (series,) = st.series(1)
        assert st.samples(series.id, -(2**70), 2**70) == [(T0, 1.0)]
        assert st.events(1, start_ns=-(2**70), end_ns=2**70) == []
        assert len(st.runs(since_ns=-(2**70), until_ns=2**70)) == 4
        assert st.runs(since_ns=INT64_MAX + 1) == []


def test_an_empty_file_is_refused_untouched_with_a_hint(capsys, tmp_path):
    empty = tmp_path / "empty.db"
    empty.touch()
    with pytest.raises(StoreCorrupt, match="is an empty file") as info:
        Store.open(empty)
    assert f"rm {empty}" in (info.value.hint or "")
    for argv in (["record", "-d", "1s"], ["runs"]):
        code, _, err = run_cli(capsys, *argv, "--store", str(empty))
        assert code == 2
        assert "is an empty file, not a perflab store" in err
        assert "  hint: " in err
    assert empty.stat().st_size == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.db"]


def test_a_store_perflab_creates_starts_with_its_marker_and_leaves_nothing_beside(tmp_path):
    path = tmp_path / "new.db"
    Store.open(path).close()
    head = path.read_bytes()[:100]
    assert head.startswith(b"SQLite format 3\0")
    assert int.from_bytes(head[68:72], "big") == APPLICATION_ID
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.db"]
    assert path.stat().st_mode & 0o777 == 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_read_only_open_reads_and_refuses_writes_clearly(named):
    with Store.open(named, create=False, readonly=True) as st:
        assert st.readonly
        assert [r.name for r in st.runs()][-1] == "plain"
        with pytest.raises(StoreUnwritable, match="read-only"):
            st.create_run("record", "nope")


@pytest.mark.parametrize("when", ["99999999999999999999", "9999-12-31T23:59:59Z"])
def test_bench_record_refuses_a_time_the_store_cannot_hold(capsys, store_path, tmp_path, when):
    results = tmp_path / "bench.txt"
    results.write_text("BenchmarkX-4  100  200 ns/op\n")
    code, _, err = run_cli(capsys, "bench", "record", str(results), "--commit", "abc",
                           "--time", when, "--store", str(store_path))
    assert code == 2, err
    assert err.startswith(f"perflab: error: --time '{when}' is out of range")
    assert not store_path.exists()  # parsed before the store is opened

"""``perflab leak`` and ``memcheck`` on bad input: one line, the right exit code, no traceback;
a run that could not be watched is marked failed, not left running."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from perflab.cli import main
from perflab.debug._contracts import LeakReport, MemcheckReport
from perflab.store import Store

ROOT = Path(__file__).resolve().parents[3]
FIX = ROOT / "tests" / "fixtures" / "debug"


@pytest.mark.parametrize(("args", "code", "text"), [
    (["leak", "abc"], 2, "expected a PID or a URL"),
    (["leak", "4242", "--pid", "1"], 2, "--pid goes with a URL"),
    (["leak", str(2**22 + 11)], 3, "no process with PID"),
    (["leak", "1", "--min-growth", "lots"], 2, "invalid size"),
    (["leak", "1", "-i", "0s"], 2, "--interval must be longer than zero"),
    (["memcheck"], 2, "nothing to check"),
    (["memcheck", "--asan-log", "x.log", "--", "true"], 2, "not both"),
])
def test_bad_input(store_path, capsys, args, code, text):
    assert main([*args, "--store", str(store_path)]) == code
    err = capsys.readouterr().err
    assert text in err
    assert "Traceback" not in err


def test_an_unreachable_url_fails_its_run(store_path, capsys):
    code = main(["leak", "http://127.0.0.1:9", "-d", "2s", "-i", "1s", "--store",
                 str(store_path)])
    assert code == 3
    assert "cannot fetch" in capsys.readouterr().err
    with Store.open(store_path) as store:
        (run,) = store.runs(kind="leak")
        assert run.status == "failed"


def test_an_asan_log_without_reports_says_so(store_path, tmp_path, capsys):
    log = tmp_path / "out.log"
    log.write_text("hello\n")
    assert main(["memcheck", "--asan-log", str(log), "--store", str(store_path)]) == 0
    assert "no sanitizer report" in capsys.readouterr().err
    assert main(["memcheck", "--asan-log", str(tmp_path), "--store", str(store_path)]) == 2


def test_text_output_of_a_watch_and_a_log(store_path, capsys):
    """The human forms: a short watch of this process, the fixture's LSan log."""
    assert main(["leak", str(os.getpid()), "-d", "2s", "-i", "500ms", "--warmup", "1ms",
                 "--no-memray", "--store", str(store_path)]) in (0, 1)
    out = capsys.readouterr()
    assert "verdict:" in out.out
    assert "RSS" in out.out
    assert "run 1: perflab show 1" in out.err
    assert main(["memcheck", "--asan-log", str(FIX / "lsan-leaks.log"), "--store",
                 str(store_path)]) == 1
    out = capsys.readouterr()
    assert "FAIL" in out.out
    assert "keep_forever" in out.out
    assert "leaks: definitely 364B" in out.out


def test_the_json_documents_match_their_typed_dicts():
    """Each --json schema's required keys are its TypedDict's keys (debug/_contracts.py)."""
    for name, typed in (("leak", LeakReport), ("memcheck", MemcheckReport)):
        schema = json.loads((ROOT / "docs" / "schemas" / f"{name}.schema.json").read_text())
        assert set(schema["required"]) == set(typed.__annotations__), name


def test_a_watch_recorded_into_a_given_run(store_path, capsys):
    with Store.open(store_path) as store:
        run_id = store.create_run("record", "soak").id
    assert main(["leak", str(os.getpid()), "-d", "1s", "-i", "500ms", "--no-memray", "--run",
                 str(run_id), "--json", "--store", str(store_path)]) in (0, 1)
    doc = json.loads(capsys.readouterr().out)
    assert doc["run"]["id"] == run_id
    with Store.open(store_path) as store:
        assert store.runs(kind="leak") == []
        assert [e.kind for e in store.events(run_id)] == ["debug.leak"]
        assert store.run(run_id).status == "running"  # its owner finishes it, not the watch
    assert main(["leak", str(os.getpid()), "--run", "999", "--store", str(store_path)]) == 2

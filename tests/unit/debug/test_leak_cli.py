"""``perflab leak`` and ``memcheck`` on bad input: one line, the right exit code, no traceback;
a run that could not be watched is marked failed, not left running."""

from __future__ import annotations

import pytest

from perflab.cli import main
from perflab.store import Store


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

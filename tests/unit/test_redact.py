"""Secrets in command lines are shown as *** everywhere perflab shows a command line: one
function (units.redact_args), applied where command lines are read (collect), so top, proc,
/api/live and every --json get the redacted form."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perflab.collect import ProcessCollector
from perflab.units import REDACTED, redact_args

R = REDACTED


@pytest.mark.parametrize(("args", "shown"), [
    # option values, both spellings
    (["perflab", "serve", "--token", "s3cret"], ["perflab", "serve", "--token", R]),
    (["perflab", "serve", "--token=s3cret"], ["perflab", "serve", f"--token={R}"]),
    (["app", "-password", "x"], ["app", "-password", R]),
    (["app", "--db-password=x", "--port", "80"], ["app", f"--db-password={R}", "--port", "80"]),
    (["app", "--api-key", "k", "--apikey=k", "--apiKey", "k"],
     ["app", "--api-key", R, f"--apikey={R}", "--apiKey", R]),
    (["app", "--client-secret", "x", "--auth-token", "y", "--passwd", "z"],
     ["app", "--client-secret", R, "--auth-token", R, "--passwd", R]),
    (["app", "--credentials", "c", "--auth", "a"], ["app", "--credentials", R, "--auth", R]),
    # variables (env ... NAME=value, or a shell's assignment kept in argv)
    (["env", "PASSWORD=x", "AWS_SECRET_ACCESS_KEY=y", "MYSQL_PWD=z", "HOME=/root", "app"],
     ["env", f"PASSWORD={R}", f"AWS_SECRET_ACCESS_KEY={R}", f"MYSQL_PWD={R}", "HOME=/root",
      "app"]),
    # headers and URLs
    (["curl", "-H", "Authorization: Bearer abc", "-H", "Accept: text/html"],
     ["curl", "-H", f"Authorization: {R}", "-H", "Accept: text/html"]),
    (["psql", "postgres://app:hunter2@db:5432/x"], ["psql", f"postgres://app:{R}@db:5432/x"]),
    (["git", "clone", "https://github.com/a/b"], ["git", "clone", "https://github.com/a/b"]),
    # not secrets: short options, look-alike names, a flag followed by another option
    (["mysql", "-p", "x", "-u", "root"], ["mysql", "-p", "x", "-u", "root"]),
    (["app", "--monkey", "x", "--author", "me", "--keep-alive"],
     ["app", "--monkey", "x", "--author", "me", "--keep-alive"]),
    (["app", "--token", "--verbose"], ["app", "--token", "--verbose"]),
    (["app", "--token"], ["app", "--token"]),
    ([], []),
])
def test_redaction_table(args, shown):
    assert redact_args(args) == shown


@given(st.lists(st.text(max_size=40), max_size=12))
def test_redaction_keeps_the_arguments_count_and_never_raises(args):
    assert len(redact_args(args)) == len(args)


@pytest.fixture
def sleeper():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)",
                             "--token", "s3cret-in-argv", "PASSWORD=hunter2"])
    yield proc
    proc.kill()
    proc.wait()


def _argv_visible(pid: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:  # noqa: PTH123
            if b"PASSWORD" in fh.read():
                return
        time.sleep(0.02)


def test_process_lists_show_no_secret(sleeper):
    """top, /api/live and `perflab proc`'s lists read command lines through ProcessCollector."""
    _argv_visible(sleeper.pid)
    rows = {r.pid: r for r in ProcessCollector("/proc").refresh()}
    cmd = rows[sleeper.pid].cmdline
    assert "s3cret-in-argv" not in cmd
    assert "hunter2" not in cmd
    assert f"--token {R} PASSWORD={R}" in cmd
    assert "s3cret" not in str(rows[sleeper.pid].to_json())


def test_proc_json_shows_no_secret(sleeper, capsys):
    from perflab.cli import main  # noqa: PLC0415

    _argv_visible(sleeper.pid)
    assert main(["proc", str(sleeper.pid), "--json"]) == 0
    out = capsys.readouterr().out
    assert "s3cret-in-argv" not in out
    assert "hunter2" not in out
    assert json.loads(out)["process"]["cmdline"][-3:] == ["--token", R, f"PASSWORD={R}"]

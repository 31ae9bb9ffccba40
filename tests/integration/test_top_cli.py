"""`perflab top --once` / `--json` on this machine's real /proc, and its errors."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests._schemas import validate
from tests.conftest import wait_until_idle

from perflab.cli import main

pytestmark = pytest.mark.integration


def test_json_snapshot_of_the_real_machine_validates(capsys):
    """Real output validates against docs/schemas/top.schema.json and shows this process."""
    started = time.monotonic()
    assert main(["top", "--json", "--interval", "100ms", "--sort", "mem"]) == 0
    took_s = time.monotonic() - started
    doc = json.loads(capsys.readouterr().out)
    validate(doc, "top")
    assert doc["schema"] == "perflab.top/1"
    # the rates' interval is the one measured between the two snapshots: the one asked, plus
    # whatever a busy machine adds to a sleep (not a guessed slack), within the command's time
    assert 0.1 <= doc["interval_s"] <= took_s
    assert os.getpid() in {p["pid"] for p in doc["processes"]}
    rss = [p["rss_bytes"] for p in doc["processes"]]
    assert rss == sorted(rss, reverse=True)
    assert set(doc["cpu"]["cores"]) == {str(i) for i in range(len(doc["cpu"]["cores"]))}


def test_json_filter_by_pid_and_tree(capsys):
    assert main(["top", "--json", "--interval", "50ms", "--filter", str(os.getpid()),
                 "--tree"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [p["pid"] for p in doc["processes"]] == [os.getpid()]
    assert doc["options"] == {"sort": "cpu", "filter": str(os.getpid()), "tree": True}


def test_once_when_piped_is_plain_text_with_every_panel(capsys):
    assert main(["top", "--once", "--interval", "50ms"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out
    for panel in ("CPU    usr   sys", "Load ", "Mem ", "Swap ", "PSI ", "TCP estab",
                  "DISK        r/s", "NET        rx B/s", "PID USER"):
        assert panel in out
    assert f"{os.getpid():>7} " in out


def test_malformed_proc_is_a_clear_error(capsys, tmp_path):
    """A /proc whose files do not parse: one line naming the directory, exit 3."""
    root = tmp_path / "proc"
    shutil.copytree(Path(__file__).parents[1] / "fixtures" / "proc_top" / "t0", root)
    (root / "loadavg").write_text("not a load average\n")
    assert main(["top", "--once", "--interval", "50ms", "--proc-root", str(root)]) == 3
    err = capsys.readouterr().err
    assert f"perflab: error: cannot parse the files under {root}" in err
    assert "Traceback" not in err


def test_fixture_proc_root_renders(capsys):
    """--proc-root reads another tree (the hostname comes from its sys/kernel/hostname)."""
    root = Path(__file__).parents[1] / "fixtures" / "proc_top" / "t1"
    assert main(["top", "--once", "--interval", "50ms", "--proc-root", str(root)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("perflab top  fixturehost")
    assert "python3 /srv/app.py" in out
    # the interval the snapshot covered, as measured: 50ms asked, more on a busy machine
    assert re.search(r"every \d+(\.\d+)?m?s", out.splitlines()[0])


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--interval", "0"], 2, "perflab: error: interval 0s is too short"),
    (["--interval", "soon"], 2, "invalid duration 'soon'"),
    (["--sort", "name"], 2, "'name' is not one of 'cpu', 'mem', 'io'"),
    (["--once", "--proc-root", "/nonexistent"], 3, "perflab: error: cannot read"),
    ([], 2, "perflab: error: the live view needs a terminal"),
])
def test_bad_input_is_one_line_with_the_right_exit_code(capsys, args, code, message):
    assert main(["top", *args]) == code
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_ctrl_c_during_once_prints_what_was_measured(tmp_path):
    """Ctrl-C while --once waits between its samples: the snapshot over the time waited is
    printed (exit 0), not thrown away."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")}
    proc = subprocess.Popen([sys.executable, "-m", "perflab", "top", "--once", "--interval", "30s"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    # interpreter start-up and the first sample are CPU work; then it waits for the second
    wait_until_idle(proc.pid)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    title = out.splitlines()[0]
    m = re.search(r"every ([\d.]+)(ms|s)\b", title)
    assert m, title
    assert float(m.group(1)) < (30 if m.group(2) == "s" else 30_000)
    assert "PID USER" in out

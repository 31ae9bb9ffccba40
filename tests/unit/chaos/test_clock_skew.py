"""``perflab run --clock-skew OFFSET -- CMD``: the child's wall clock through libfaketime, a
``chaos.fault`` band on the run, and the honest limits (static binaries, Go's time.Now)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import require_tool, wait_for

from perflab.chaos.faults import ClockSkew, skew_warnings
from perflab.chaos.faults import _clock as clock
from perflab.errors import InvalidValue, ToolMissing
from perflab.store import CHAOS_FAULT_EVENT, Event, Store

TWO_HOURS = 7200
SLACK = 600  # the child's start on a busy machine, never near the two hours tested


def _perflab_run(store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "perflab", "run", "--store", str(store),
                           "--no-logs", *args], capture_output=True, text=True, timeout=120,
                          check=False)


@pytest.fixture(scope="module")
def faketime() -> None:
    require_tool("faketime")  # the package that brings libfaketime


@pytest.mark.parametrize("offset", ["-2h", "+90s", "-1.5d", "-7200", "+1y", "@2020-01-01",
                                    "@2020-01-01 12:00:00"])
def test_offsets_libfaketime_reads_as_given_are_accepted(offset, tmp_path):
    assert ClockSkew.parse(offset, tmp_path / "lib.so").offset == offset


@pytest.mark.parametrize("offset", ["2h", "-2h30m", "-2 h", "yesterday", "", "@2020",
                                    "-2w"])
def test_other_offsets_are_refused_with_the_accepted_forms(offset, tmp_path):
    with pytest.raises(InvalidValue) as info:
        ClockSkew.parse(offset, tmp_path / "lib.so")
    assert "-2h" in (info.value.hint or "")


def test_the_environment_preloads_libfaketime_first_and_leaves_the_monotonic_clock(tmp_path):
    skew = ClockSkew("-2h", tmp_path / "libfaketime.so.1")
    env = skew.env({"LD_PRELOAD": "/other.so", "HOME": "/root"})
    assert env["LD_PRELOAD"] == f"{tmp_path / 'libfaketime.so.1'}:/other.so"
    assert (env["FAKETIME"], env["FAKETIME_DONT_FAKE_MONOTONIC"], env["HOME"]) == (
        "-2h", "1", "/root")
    assert skew.env({})["LD_PRELOAD"] == str(tmp_path / "libfaketime.so.1")


def test_the_library_is_found_where_the_package_put_it(faketime):
    found = clock.find_library()
    assert found.name == "libfaketime.so.1"
    assert found.is_file()
    assert clock._from_known_dirs() is not None  # also without dpkg


def test_a_missing_library_is_a_clear_tool_error(monkeypatch, tmp_path):
    monkeypatch.setattr(clock, "_from_dpkg", lambda: None)
    monkeypatch.setattr(clock, "_KNOWN_DIRS", (str(tmp_path),))
    with pytest.raises(ToolMissing) as info:
        ClockSkew.parse("-2h")
    assert "apt-get install faketime" in (info.value.hint or "")


def test_static_elf_detection(tmp_path):
    assert not clock.is_static_elf("/bin/ls")
    script = tmp_path / "s.sh"
    script.write_text("#!/bin/sh\ndate\n")
    assert not clock.is_static_elf(str(script))
    assert not clock.is_static_elf(str(tmp_path / "missing"))
    assert skew_warnings("date") == []


@pytest.mark.parametrize("cmd", [
    [sys.executable, "-c", "import time; print(time.time())"],
    ["date", "+%s"],
])
def test_the_child_sees_its_clock_skewed_and_the_run_has_the_band(faketime, tmp_path, cmd):
    store = tmp_path / "s.db"
    r = _perflab_run(store, "--clock-skew", "-2h", "--json", "--", *cmd)
    assert r.returncode == 0, r.stderr
    first, rest = r.stdout.split("\n", 1)
    assert abs((time.time() - float(first)) - TWO_HOURS) < SLACK
    doc = json.loads(rest)
    with Store.open(store) as db:
        run = db.run(doc["run"]["id"])
        bands = [e for e in db.events(run.id) if e.kind == CHAOS_FAULT_EVENT]
    assert run.meta["clock_skew"] == "-2h"
    assert len(bands) == 1
    assert bands[0].attrs["fault"] == "clock-skew"
    assert bands[0].attrs["offset"] == "-2h"
    assert "libfaketime" in bands[0].attrs["mechanism"]
    assert bands[0].end_ns is not None
    assert run.started_ns <= bands[0].ts_ns <= bands[0].end_ns <= (run.ended_ns or 0)


def test_without_the_option_the_clock_is_not_skewed(tmp_path):
    r = _perflab_run(tmp_path / "s.db", "--", "date", "+%s")
    assert r.returncode == 0, r.stderr
    assert abs(time.time() - float(r.stdout.split()[0])) < SLACK


def test_a_bad_offset_is_one_line_and_exit_2_before_any_run(tmp_path):
    r = _perflab_run(tmp_path / "s.db", "--clock-skew", "-2h30m", "--", "date")
    assert r.returncode == 2
    assert r.stderr.startswith("perflab: error: invalid clock skew '-2h30m'")
    assert "hint:" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "s.db").exists()


GO_CLOCK = """package main

%s
import (
\t"fmt"
\t"time"
)

func main() { fmt.Println(time.Now().Unix()%s) }
"""


def _go_build(tmp_path: Path, *, cgo: bool) -> Path:
    go = require_tool("go")
    src = tmp_path / ("cgo" if cgo else "static")
    src.mkdir()
    (src / "go.mod").write_text("module clock\n\ngo 1.21\n")
    (src / "main.go").write_text(GO_CLOCK % (
        ('// #include <time.h>\nimport "C"\n', ", int64(C.time(nil))") if cgo else ("", "")))
    env = {**os.environ, "CGO_ENABLED": "1" if cgo else "0", "GOFLAGS": "-mod=mod",
           "GOCACHE": str(tmp_path / "gocache"), "GOPATH": str(tmp_path / "gopath")}
    subprocess.run([go, "build", "-o", "clock", "."], cwd=src, env=env, check=True,
                   timeout=300, capture_output=True)
    return src / "clock"


def test_go_time_now_is_not_skewed_static_or_cgo_and_perflab_says_so(faketime, tmp_path):
    static, dynamic = _go_build(tmp_path, cgo=False), _go_build(tmp_path, cgo=True)
    assert clock.is_static_elf(str(static))
    assert not clock.is_static_elf(str(dynamic))
    for binary in (static, dynamic):
        r = _perflab_run(tmp_path / "s.db", "--clock-skew", "-2h", "--", str(binary))
        assert r.returncode == 0, r.stderr
        assert "perflab run: warning: clock is a Go program" in r.stderr
        seen = [float(x) for x in r.stdout.split()]
        assert abs(time.time() - seen[0]) < SLACK  # Go's own clock: not skewed
        if binary == dynamic:  # C's time() through libc: skewed
            assert abs((time.time() - seen[1]) - TWO_HOURS) < SLACK


def test_chaos_inject_clock_skew_points_at_perflab_run(tmp_path):
    r = subprocess.run([sys.executable, "-m", "perflab", "chaos", "inject", "clock-skew",
                        "--pid", str(os.getpid()), "--duration", "1s",
                        "--store", str(tmp_path / "s.db")],
                       capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 2
    assert r.stderr.startswith("perflab: error: clock skew cannot be injected into a running")
    assert "perflab run --clock-skew -2h -- CMD" in r.stderr


@contextlib.contextmanager
def _skewed_run(store: Path, *cmd: str) -> Iterator[tuple[subprocess.Popen[bytes], list[int]]]:
    """`perflab run --clock-skew -2h -- CMD` in the background, and a list the test fills with
    the process groups it started: whatever happens, all are killed at the end."""
    proc = subprocess.Popen([sys.executable, "-m", "perflab", "run", "--store", str(store),
                             "--no-logs", "--clock-skew", "-2h", "--", *cmd],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    groups: list[int] = []
    try:
        yield proc, groups
    finally:
        proc.kill()
        proc.wait(30)
        for group in groups:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)


def test_a_sigkilled_perflab_run_leaves_its_band_to_the_watchdog(faketime, tmp_path):
    """`kill -9` of `perflab run --clock-skew`: the watchdog ends the band when it sees the
    death (the band says until when perflab saw it)."""
    store = tmp_path / "s.db"
    with _skewed_run(store, "sleep", "120") as (proc, children):
        def armed() -> bool:  # the band is written and its journal tells the watchdog of it
            # (the journal is written first, so a kill between the two ends the band too)
            return bool(_bands(store)) and any(
                '"end_event"' in j.read_text()
                for j in (tmp_path / "chaos" / "faults").glob("*.json"))

        wait_for(armed, timeout_s=60, what="the clock skew's band and its journal")
        children.extend(_children(proc.pid))
        killed_ns = time.time_ns()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        (band,) = wait_for(lambda: [b for b in _bands(store) if b.end_ns is not None],
                           timeout_s=30, what="the watchdog to end the band")
    assert band.end_ns is not None
    assert killed_ns <= band.end_ns <= time.time_ns()
    assert band.end_ns - killed_ns < 5 * 10**9  # seen within the watchdog's poll, not later
    assert not list((tmp_path / "chaos" / "faults").glob("*.json"))  # its journal is done


def test_a_sigkilled_perflab_run_takes_its_skewed_child_with_it(faketime, tmp_path):
    """The skew lives in the child and its children: when `perflab run` is killed (`kill -9`),
    the watchdog ends the child's process group, SIGTERM first, then SIGKILL for what ignores
    it (the fault ends with its controller, as a Chaos Toolkit rollback would)."""
    store = tmp_path / "s.db"
    # a child in the group that ends on SIGTERM, and a leader that ignores it
    script = 'sleep 120 & trap "" TERM; exec sleep 121'
    with _skewed_run(store, "sh", "-c", script) as (proc, groups):
        def started() -> list[int]:  # the leader runs sleep (TERM ignored), beside its child
            if not _bands(store) or not any((tmp_path / "chaos" / "faults").glob("*.json")):
                return []
            (leader,) = _children(proc.pid)
            if _comm(leader) != "sleep" or not _children(leader):
                return []
            return [leader, *_children(leader)]

        group = wait_for(started, timeout_s=60, what="the skewed child and its own child")
        groups.append(group[0])  # the leader's PID is the group's
        assert all(_comm(pid) == "sleep" for pid in group)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        wait_for(lambda: not any(_runs(pid) for pid in group), timeout_s=30,
                 what="the watchdog to end the skewed process group")
        wait_for(lambda: [b for b in _bands(store) if b.end_ns is not None], timeout_s=30,
                 what="the watchdog to end the band")
    log_path = next((tmp_path / "chaos" / "faults").glob("*.log"))
    # the watchdog writes its log once every step is undone, the band's end being the last
    wait_for(lambda: "rolled back" in log_path.read_text(), timeout_s=30,
             what="the watchdog's log of its rollback")
    log = log_path.read_text()
    assert "(clock-skew) rolled back" in log
    assert "problems: none" in log


def _children(pid: int) -> list[int]:
    with contextlib.suppress(OSError):
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return []


def _comm(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/comm").read_text().strip()
    return ""


def _runs(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie waits for whoever adopted it)."""
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    return False


def _bands(store: Path) -> list[Event]:
    if not store.exists():
        return []
    with Store.open(store) as db:
        return [e for run in db.runs() for e in db.events(run.id) if e.kind == CHAOS_FAULT_EVENT]

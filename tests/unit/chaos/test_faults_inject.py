"""``perflab chaos inject``: every kind applies a real fault and rolls it back at expiry, on
Ctrl-C and SIGTERM (exit 130), and through the watchdog when the controller is killed -9."""

from __future__ import annotations

import contextlib
import json
import resource
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests._faults import Controller, process_state, step_restored
from tests._schemas import validate
from tests.conftest import require_root, require_tool, wait_for

from perflab.store import Store

# the options each kind needs on top of its target, with small sizes: the machine is shared
KIND_ARGS = {
    "stop": [],
    "cpu": ["--workers", "1"],
    "memory": ["--size", "16M"],
    "io": ["--path", "{tmp}"],
    "disk": ["--path", "{tmp}", "--size", "1M"],
    "fds": [],
    "restart": ["--restart-cmd", "touch {tmp}/restarted"],
}


@pytest.fixture
def target() -> Iterator[subprocess.Popen[bytes]]:
    """A process to inject faults into; killed (and reaped) whatever the test did to it."""
    proc = subprocess.Popen(["sleep", "600"])
    yield proc
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGCONT)
        proc.kill()
    proc.wait()


def _args(kind: str, tmp_path: Path, pid: int, duration: str = "10m") -> list[str]:
    extra = [a.format(tmp=tmp_path) for a in KIND_ARGS[kind]]
    return ["inject", kind, "--pid", str(pid), "--duration", duration, *extra]


def _all_restored(journal: dict[str, object]) -> bool:
    return all(step_restored(s) for s in journal["undo"])  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", list(KIND_ARGS))
def test_kill_9_of_the_controller_is_rolled_back_by_the_watchdog(
        kind: str, target: subprocess.Popen[bytes], tmp_path: Path, store_path: Path) -> None:
    """The rollback figure's test: whatever the kind, the watchdog undoes it all."""
    require_root("signals, cgroups and rlimits of other processes")
    ctl = Controller(_args(kind, tmp_path, target.pid), store_path)
    ctl.wait_applied()
    journal = ctl.journal()
    assert journal["undo"][0]["op"] == "end_event"
    if kind == "stop":  # the signal is delivered asynchronously
        wait_for(lambda: process_state(target.pid) == "T", 30, "the stopped target")
    if kind == "fds":
        assert resource.prlimit(target.pid, resource.RLIMIT_NOFILE)[0] < 64
    if kind != "restart":
        assert not _all_restored(journal)
    ctl.kill9()
    wait_for(lambda: not Path(journal["path"]).exists(), 30, "the watchdog's rollback")
    wait_for(lambda: _all_restored(journal), 30, "every change undone")
    if kind == "restart":
        wait_for((tmp_path / "restarted").exists, 30, "the restart command")
    with Store.open(store_path) as store:
        run = store.runs()[0]
        assert run.status == "aborted"
        assert run.meta["rolled_back_by"] == "watchdog"
        (band,) = store.events(run.id)
        assert band.kind == "chaos.fault"
        assert band.end_ns is not None
        assert band.end_ns - band.ts_ns < 600 * 10**9  # the planned 10 minutes, cut short


@pytest.mark.parametrize(("sig", "kind"), [(signal.SIGINT, "stop"), (signal.SIGTERM, "cpu"),
                                           (signal.SIGINT, "disk")])
def test_ctrl_c_and_sigterm_roll_back_and_exit_130(
        sig: int, kind: str, target: subprocess.Popen[bytes], tmp_path: Path,
        store_path: Path) -> None:
    require_root("signals of other processes")
    ctl = Controller(_args(kind, tmp_path, target.pid), store_path)
    ctl.wait_applied()
    journal = ctl.journal()
    ctl.signal(sig)
    code, _, err = ctl.finish()
    assert code == 130, err
    assert "fault interrupted: rolled back" in err + _  # stdout holds the summary
    wait_for(lambda: _all_restored(journal), 30, "every change undone")
    assert not Path(journal["path"]).exists()
    with Store.open(store_path) as store:
        assert store.runs()[0].status == "aborted"


def test_sigint_ends_a_fault_even_when_started_with_sigint_ignored(
        target: subprocess.Popen[bytes], tmp_path: Path, store_path: Path) -> None:
    """A controller started in the background by a script inherits SIGINT ignored; a
    `kill -INT` left the fault in place for its whole duration (the full suite hung on it)."""
    require_root("SIGSTOP of another process")
    ctl = Controller(_args("stop", tmp_path, target.pid), store_path, sigint_ignored=True)
    ctl.wait_applied()
    journal = ctl.journal()
    ctl.signal(signal.SIGINT)
    code, _, err = ctl.finish()
    assert code == 130, err
    wait_for(lambda: _all_restored(journal), 30, "every change undone")


def test_stop_expires_and_the_band_carries_its_parameters(
        target: subprocess.Popen[bytes], tmp_path: Path, store_path: Path) -> None:
    require_root("SIGSTOP of another process")
    ctl = Controller([*_args("stop", tmp_path, target.pid, "1s"), "--json"], store_path)
    ctl.wait_applied()
    code, out, err = ctl.finish()
    assert code == 0, err
    doc = json.loads(out)
    validate(doc, "chaos-fault")
    assert doc["status"] == "ok"
    assert doc["rolled_back"] is True
    assert doc["targets"] == [{"pid": target.pid, "name": "sleep"}]
    assert process_state(target.pid) in ("S", "R")
    with Store.open(store_path) as store:
        run = store.run(doc["run_id"])
        assert run.kind == "chaos"
        assert run.status == "ok"
        (band,) = store.events(run.id)
        assert band.attrs["fault"] == "stop"
        assert band.attrs["duration_s"] == 1.0
        assert band.end_ns is not None
        assert band.end_ns - band.ts_ns >= 1_000_000_000


def test_the_band_goes_on_a_given_run(target: subprocess.Popen[bytes], tmp_path: Path,
                                      store_path: Path) -> None:
    """--run RUN: the fault shows on the recording or load test it belongs to."""
    require_root("SIGSTOP of another process")
    with Store.open(store_path) as store:
        run = store.create_run("record", "r")
    ctl = Controller([*_args("stop", tmp_path, target.pid, "1s"), "--run", str(run.id)],
                     store_path)
    code, _, err = ctl.finish()
    assert code == 0, err
    with Store.open(store_path) as store:
        assert [e.kind for e in store.events(run.id)] == ["chaos.fault"]
        assert [r.id for r in store.runs()] == [run.id]  # no chaos run of its own


def test_kill_sends_its_signal_and_is_an_instant(target: subprocess.Popen[bytes],
                                                 tmp_path: Path, store_path: Path) -> None:
    require_root("signals of another process")
    ctl = Controller(["inject", "kill", "--pid", str(target.pid), "--signal", "TERM",
                      "--json"], store_path)
    code, out, err = ctl.finish()
    assert code == 0, err
    assert target.wait(timeout=30) == -signal.SIGTERM
    assert json.loads(out)["mechanism"] == f"sent SIGTERM to PID {target.pid} (sleep)"


def test_restart_runs_its_command_at_the_end(target: subprocess.Popen[bytes], tmp_path: Path,
                                             store_path: Path) -> None:
    require_root("signals of another process")
    marker = tmp_path / "restarted"
    ctl = Controller(["inject", "restart", "--pid", str(target.pid),  # no downtime
                      "--restart-cmd", f"touch {marker}", "--json"], store_path)
    code, out, err = ctl.finish()
    assert code == 0, err
    assert target.wait(timeout=30) == -signal.SIGTERM
    assert json.loads(out)["restarted_pid"] > 0
    wait_for(marker.exists, 30, "the restart command's file")


def test_fds_makes_the_target_fail_to_open(tmp_path: Path, store_path: Path) -> None:
    """RLIMIT_NOFILE at what the target has open: its next open() is EMFILE, then works again
    after the rollback."""
    require_root("prlimit of another process")
    script = tmp_path / "opener.py"
    script.write_text(
        "import sys, time\n"
        "for line in sys.stdin:\n"
        "    try:\n"
        "        open('/dev/null').close(); print('ok', flush=True)\n"
        "    except OSError as e:\n"
        "        print(e.errno, flush=True)\n")
    proc = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdin is not None
    assert proc.stdout is not None

    def attempt() -> str:
        proc.stdin.write("go\n")  # type: ignore[union-attr]
        proc.stdin.flush()  # type: ignore[union-attr]
        return proc.stdout.readline().strip()  # type: ignore[union-attr]

    try:
        assert attempt() == "ok"
        ctl = Controller(["inject", "fds", "--pid", str(proc.pid), "--duration", "10m"],
                         store_path)
        assert "RLIMIT_NOFILE lowered (prlimit)" in ctl.wait_applied()
        assert attempt() == "24"  # EMFILE
        ctl.signal(signal.SIGINT)
        assert ctl.finish()[0] == 130
        assert attempt() == "ok"
    finally:
        proc.kill()
        proc.communicate()  # reaps it and closes its pipes


@pytest.mark.parametrize("kind", ["cpu", "memory", "io"])
def test_builtin_hogs_run_without_stress_ng(kind: str, target: subprocess.Popen[bytes],
                                            tmp_path: Path, store_path: Path) -> None:
    ctl = Controller([*_args(kind, tmp_path, target.pid), "--engine", "builtin"], store_path)
    assert "built-in worker" in ctl.wait_applied()
    journal = ctl.journal()
    (hog,) = [s for s in journal["undo"] if s["op"] == "kill_group"]
    assert process_state(hog["pid"]) not in ("gone", "Z")
    ctl.signal(signal.SIGINT)
    assert ctl.finish()[0] == 130
    wait_for(lambda: _all_restored(journal), 30, "every change undone")


def test_stress_ng_hog(target: subprocess.Popen[bytes], tmp_path: Path,
                       store_path: Path) -> None:
    require_tool("stress-ng")
    ctl = Controller([*_args("cpu", tmp_path, target.pid), "--engine", "stress-ng"],
                     store_path)
    assert "stress-ng --quiet --timeout 605s --cpu 1" in ctl.wait_applied()
    ctl.signal(signal.SIGINT)
    assert ctl.finish()[0] == 130


def test_a_hog_joins_the_targets_cgroup_v2(tmp_path: Path, store_path: Path) -> None:
    """A target in a cgroup v2 of its own: the hog runs inside it, and says so."""
    require_root("creating a cgroup")
    mount = next((Path(line.split()[4]) for line in Path("/proc/self/mountinfo").read_text()
                  .splitlines() if " - cgroup2 " in line), None)
    if mount is None:
        pytest.skip("no cgroup v2 mounted")
    group = mount / f"perflab-test-{tmp_path.name[-12:]}"
    group.mkdir()
    proc = subprocess.Popen(["sleep", "600"])
    try:
        (group / "cgroup.procs").write_text(f"{proc.pid}\n")
        ctl = Controller(_args("cpu", tmp_path, proc.pid), store_path)
        rel = "/" + group.name
        assert f"in PID {proc.pid}'s cgroup (cgroup v2 {rel}" in ctl.wait_applied()
        (hog,) = [s for s in ctl.journal()["undo"] if s["op"] == "kill_group"]
        assert f"0::{rel}\n" in Path(f"/proc/{hog['pid']}/cgroup").read_text()
        ctl.signal(signal.SIGINT)
        assert ctl.finish()[0] == 130
    finally:
        proc.kill()
        proc.wait()
        wait_for(lambda: not (group / "cgroup.procs").read_text().strip(), 30, "empty cgroup")
        group.rmdir()


@pytest.mark.parametrize(("args", "code", "message"), [
    (["inject", "nap", "--pid", "1", "--duration", "1s"], 2, "unknown fault 'nap'"),
    (["inject", "stop", "--duration", "1s"], 2, "no target: give --pid PID or --match TEXT"),
    (["inject", "stop", "--pid", "1"], 2, "a stop fault needs --duration"),
    (["inject", "stop", "--pid", "999999999", "--duration", "1s"], 3, "no process with PID"),
    (["inject", "stop", "--match", "no-such-process-xyz", "--duration", "1s"], 3,
     "no process matches 'no-such-process-xyz'"),
    (["inject", "restart", "--pid", "1", "--duration", "1s"], 2, "restart needs --restart-cmd"),
    (["inject", "memory", "--size", "100T", "--duration", "1s"], 2, "more than this machine"),
    (["inject", "disk", "--size", "1M", "--duration", "1s"], 2, "disk needs --path"),
    (["inject", "disk", "--path", "/tmp", "--size", "100T", "--duration", "1s"], 2,
     "free on /tmp's filesystem"),
    (["inject", "io", "--path", "/nonexistent-dir", "--duration", "1s"], 2,
     "--path /nonexistent-dir is not a directory"),
    (["inject", "kill", "--pid", "1", "--signal", "NOPE"], 2, "unknown signal 'NOPE'"),
    (["inject", "cpu", "--duration", "1s", "--run", "4242"], 2, "4242"),
])
def test_bad_input_is_one_line_and_leaves_nothing(args: list[str], code: int, message: str,
                                                  store_path: Path) -> None:
    ctl = Controller(args, store_path)
    got, _, err = ctl.finish()
    assert got == code, err
    assert err.startswith("perflab: error: ")
    assert message in err
    assert "Traceback" not in err
    assert not list((store_path.parent / "chaos" / "faults").glob("*.json"))
    with Store.open(store_path) as store:
        assert store.runs() == []


def test_match_selects_the_target_and_never_perflab_or_its_parents(
        tmp_path: Path, store_path: Path) -> None:
    """The controller's own command line (and its shell's) holds the text too: only the
    target is stopped."""
    require_root("SIGSTOP of another process")
    tag = f"svc-{tmp_path.name[-8:]}"
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", tag]) as proc:
        try:
            ctl = Controller(["inject", "stop", "--match", tag, "--duration", "10m", "--json"],
                             store_path)
            ctl.wait_applied()
            wait_for(lambda: process_state(proc.pid) == "T", 30, "the stopped target")
            ctl.signal(signal.SIGINT)
            code, out, err = ctl.finish()
            assert code == 130, err
            assert [t["pid"] for t in json.loads(out)["targets"]] == [proc.pid]
            assert process_state(proc.pid) != "T"
        finally:
            proc.kill()


def test_inject_runs_in_a_thread_of_another_program(target: subprocess.Popen[bytes],
                                                    store_path: Path) -> None:
    """An experiment's background activity calls ``inject`` from a thread: signal handlers
    stay the main thread's, the fault still rolls back at expiry."""
    from perflab.chaos.faults import InjectSpec, inject  # noqa: PLC0415

    done: dict[str, object] = {}
    spec = InjectSpec(kind="stop", duration_s=0.5, pids=(target.pid,))
    thread = threading.Thread(target=lambda: done.update(doc=inject(spec, store_path)))
    thread.start()
    thread.join(120)
    doc = done["doc"]
    assert isinstance(doc, dict)
    assert doc["status"] == "ok"
    assert doc["rolled_back"] is True
    assert process_state(target.pid) != "T"

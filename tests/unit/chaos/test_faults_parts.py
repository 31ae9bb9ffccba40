"""The parts of the fault machinery that need no root: journals, orphan rollback, cgroup
placement read from a fake /proc, the public surface."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests._faults import ENV
from tests._schemas import validate

import perflab.chaos.faults
from perflab.chaos.faults._cgroups import cgroup_join
from perflab.chaos.faults._journal import Journal, journal_dir, journals
from perflab.chaos.faults._undo import UNDO, start_ticks
from perflab.store import Store


def test_exported_names() -> None:
    assert sorted(perflab.chaos.faults.__all__) == sorted([
        "FAULT_KINDS", "FaultDoc", "InjectSpec", "MonkeyDoc", "MonkeySpec", "monkey",
        "NetFaultDoc", "NetSpec", "NetnsDoc",
        "NetnsListDoc", "RollbackDoc", "create_netns", "delete_netns", "inject", "list_netns",
        "net_fault", "netns_exec_argv", "rollback_orphans", "ClockSkew", "skew_warnings",
        "BandWatch",
    ])


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_a_journal_survives_a_torn_write_and_lists_only_whole_files(tmp_path: Path) -> None:
    j = Journal(tmp_path / "a.json", "a", "disk", {"pid": 1, "start_ticks": 1})
    j.add({"op": "unlink", "path": "/nonexistent"})
    (tmp_path / "b.tmp").write_text("{half")
    (tmp_path / "c.json").write_text("{half")
    assert [x.fault_id for x in journals(tmp_path)] == ["a"]
    assert Journal.read(tmp_path / "a.json") == j


def test_a_journal_is_private(tmp_path: Path) -> None:
    """It may hold a restart command line, and with it a secret."""
    j = Journal(tmp_path / "faults" / "a.json", "a", "restart", {"pid": 1, "start_ticks": 1})
    j.add({"op": "spawn", "argv": ["svc", "--token", "s3cret"], "cwd": None})
    assert j.path.stat().st_mode & 0o777 == 0o600
    assert j.path.parent.stat().st_mode & 0o777 == 0o700


def test_rollback_undoes_journals_of_dead_controllers_only(store_path: Path) -> None:
    """A journal whose controller is gone is undone (its fill file removed, its band ended);
    one whose controller runs is a fault in progress and stays."""
    with Store.open(store_path) as store:
        run = store.create_run("chaos", "c")
        event = store.add_event(run.id, "chaos.fault", "disk")
    fill = store_path.parent / ".perflab-chaos-dead.fill"
    fill.write_bytes(b"x")
    directory = journal_dir(store_path)
    dead = Journal(directory / "dead.json", "dead", "disk",
                   {"pid": _dead_pid(), "start_ticks": 1})
    dead.add({"op": "end_event", "store": str(store_path), "run_id": run.id,
              "event_id": event, "run_owned": True})
    dead.add({"op": "unlink", "path": str(fill)})
    me = os.getpid()
    alive = Journal(directory / "alive.json", "alive", "stop",
                    {"pid": me, "start_ticks": start_ticks(me)})
    alive.write()
    out = subprocess.run([sys.executable, "-m", "perflab", "chaos", "rollback", "--json",
                          "--store", str(store_path)], capture_output=True, text=True,
                         env=ENV, check=False)
    assert out.returncode == 0, out.stderr
    doc = validate(json.loads(out.stdout), "chaos-rollback")
    assert doc["rolled_back"] == ["dead"]
    assert doc["running"] == ["alive"]
    assert not fill.exists()
    assert not dead.path.exists()
    assert alive.path.exists()
    with Store.open(store_path) as store:
        assert store.run(run.id).status == "aborted"
        assert store.events(run.id)[0].end_ns is not None


def test_a_band_journaled_before_it_was_written_is_ended_by_its_start(store_path: Path) -> None:
    """`perflab run --clock-skew` journals its band by run, kind and start before writing it:
    a rollback ends that band (and no other), and one never written is nothing to undo."""
    with Store.open(store_path) as store:
        run = store.create_run("run", "r")
        other = store.add_event(run.id, "chaos.fault", "another fault", ts_ns=1_000)
        band = store.add_event(run.id, "chaos.fault", "clock skew", ts_ns=2_000)
    directory = journal_dir(store_path)
    for name, ts in (("written", 2_000), ("never-written", 3_000)):
        j = Journal(directory / f"{name}.json", name, "clock-skew",
                    {"pid": _dead_pid(), "start_ticks": 1})
        j.add({"op": "end_event", "store": str(store_path), "run_id": run.id,
               "kind": "chaos.fault", "ts_ns": ts, "run_owned": False})
    out = subprocess.run([sys.executable, "-m", "perflab", "chaos", "rollback", "--json",
                          "--store", str(store_path)], capture_output=True, text=True,
                         env=ENV, check=False)
    assert out.returncode == 0, out.stderr
    doc = validate(json.loads(out.stdout), "chaos-rollback")
    assert sorted(doc["rolled_back"]) == ["never-written", "written"]
    with Store.open(store_path) as store:
        ends = {e.id: e.end_ns for e in store.events(run.id)}
        assert store.run(run.id).status == "running"  # the run is not the band's to end
    assert ends[band] is not None
    assert ends[other] is None


def _fake_proc(root: Path, cgroup: str, mountinfo: str) -> str:
    (root / "42").mkdir(parents=True)
    (root / "42" / "cgroup").write_text(cgroup)
    (root / "self").mkdir()
    (root / "self" / "mountinfo").write_text(mountinfo)
    return str(root)


MOUNTS = (
    "30 25 0:26 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"
    "31 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
    "32 25 0:28 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
)


def test_end_group_terms_then_kills_only_the_group_it_started() -> None:
    """``end_group`` (a skewed ``perflab run`` child): a leader with another start time is
    another process, left alone; ours gets SIGTERM, and SIGKILL once its grace is over."""
    code = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('ready', flush=True); time.sleep(120)")
    ignores_term = subprocess.Popen(  # the leader of its group, SIGTERM ignored
        [sys.executable, "-c", code], process_group=0, stdout=subprocess.PIPE)
    try:
        assert ignores_term.stdout is not None
        assert ignores_term.stdout.readline() == b"ready\n"
        ticks = start_ticks(ignores_term.pid)
        assert ticks is not None
        step = {"op": "end_group", "pid": ignores_term.pid, "grace_s": 0.2,
                "start_ticks": ticks}
        UNDO["end_group"]({**step, "start_ticks": ticks + 1})  # a reused PID
        assert ignores_term.poll() is None
        UNDO["end_group"](step)
        assert ignores_term.wait(30) == -9  # TERM was ignored: KILL after the grace
        UNDO["end_group"](step)  # the group has gone: nothing to do, no error
    finally:
        ignores_term.kill()
        ignores_term.wait(30)
        if ignores_term.stdout is not None:
            ignores_term.stdout.close()


def test_a_hog_joins_v2_and_its_v1_controllers(tmp_path: Path) -> None:
    root = _fake_proc(tmp_path, "4:memory:/box\n3:cpu,cpuacct:/box\n0::/svc.slice/api\n", MOUNTS)
    cpu = cgroup_join(42, "cpu", proc_root=root)
    assert cpu.procs_files == (
        Path("/sys/fs/cgroup/unified/svc.slice/api/cgroup.procs"),
        Path("/sys/fs/cgroup/cpu,cpuacct/box/cgroup.procs"))
    assert cpu.description == ("in PID 42's cgroup (cgroup v2 /svc.slice/api; "
                               "cpu,cpuacct /box)")
    memory = cgroup_join(42, "memory", proc_root=root)
    assert memory.procs_files[1] == Path("/sys/fs/cgroup/memory/box/cgroup.procs")


def test_a_target_in_root_cgroups_has_none_to_join(tmp_path: Path) -> None:
    """The hog never leaves perflab's cgroups for a root one."""
    root = _fake_proc(tmp_path, "4:memory:/\n0::/\n", MOUNTS)
    join = cgroup_join(42, "memory", proc_root=root)
    assert join.procs_files == ()
    assert "root cgroup" in join.description


def test_an_unreadable_target_cgroup_is_said(tmp_path: Path) -> None:
    assert "cannot be read" in cgroup_join(42, "cpu", proc_root=str(tmp_path)).description


@pytest.mark.parametrize(("text", "bits"), [("1mbit", 1_000_000), ("500kbit", 500_000),
                                            ("100kbps", 800_000), ("2.5mbit", 2_500_000)])
def test_rates_read_as_tc_writes_them(text: str, bits: int) -> None:
    from perflab.cli.chaos import _bits_per_s  # noqa: PLC0415

    assert _bits_per_s(text) == bits

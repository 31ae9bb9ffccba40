"""`perflab record` as users run it: a real subprocess, real processes, real disks, signals."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests._cpu_time import CpuTimeline, check_recorded_cpu
from tests.conftest import require_root, wait_for

from conftest import require_tool
from perflab.collect import system as collect_system
from perflab.collect.recorder import Recorder
from perflab.store import Store

pytestmark = pytest.mark.integration

PERFLAB = [sys.executable, "-m", "perflab"]


def start_record(store_path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([*PERFLAB, "record", "--store", str(store_path), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def load1_samples(store_path: Path) -> list[tuple[int, float]]:
    """The system.load1 samples of the newest run, read as any other reader would."""
    if not store_path.exists():
        return []
    try:
        with Store.open(store_path, create=False) as st:
            run = st.run("last")
            found = st.series(run.id, name="system.load1")
            return st.samples(found[0].id) if found else []
    except Exception:  # the recorder may still be creating the file
        return []


def test_kill_9_loses_at_most_a_second_and_the_store_stays_readable(store_path):
    proc = start_record(store_path, "--interval", "500ms")
    try:
        wait_for(lambda: len(load1_samples(store_path)) >= 3, timeout_s=20, what="three ticks")
        time.sleep(0.37)  # somewhere between two ticks
        killed_ns = time.time_ns()
        proc.kill()
        proc.communicate(timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    conn = sqlite3.connect(store_path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
    samples = load1_samples(store_path)
    lost_s = (killed_ns - samples[-1][0]) / 1e9
    assert 0 <= lost_s <= 1.0
    out = subprocess.run([*PERFLAB, "runs", "--store", str(store_path), "--json"],
                         capture_output=True, text=True, check=True).stdout
    (run,) = json.loads(out)["runs"]
    assert run["status"] == "interrupted"
    assert run["samples"] > 0


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_mid_run_leaves_an_aborted_run_with_its_samples(store_path, sig):
    proc = start_record(store_path, "--interval", "200ms", "--duration", "1m")
    try:
        wait_for(lambda: len(load1_samples(store_path)) >= 3, timeout_s=20, what="three ticks")
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert ": aborted, " in out
    assert "perflab show 1" in out
    with Store.open(store_path) as st:
        run = st.run(1)
        total = sum(st.sample_counts(run.id).values())
    assert run.status == "aborted"
    assert run.ended_ns is not None
    assert total == run.meta["samples"] > 0
    assert len(load1_samples(store_path)) >= 3


def _cpu_samples(store_path: Path, pid: int) -> int:
    try:
        with Store.open(store_path, create=False) as st:
            found = st.series(st.run("last").id, name="process.cpu.pct", labels={"pid": str(pid)})
            return len(st.samples(found[0].id)) if found else 0
    except Exception:  # the recorder may still be creating the file
        return 0


def test_record_a_real_child_by_pid_and_its_exit(store_path, tmp_path):
    sleeper = subprocess.Popen(["sleep", "30"])
    # a python child that keeps a core busy until told to stop, then exits mid-recording
    stop_file = tmp_path / "stop"
    spin = f"import os\nwhile not os.path.exists({str(stop_file)!r}): pass"
    spinner = subprocess.Popen([sys.executable, "-c", spin])
    proc = start_record(store_path, "--interval", "250ms", "--duration", "5s", "--pid",
                        str(sleeper.pid), "--pid", str(spinner.pid), "--json")
    try:
        # what the kernel charged the spinner, read beside the recorder: the reference
        with CpuTimeline(spinner.pid) as spun:
            wait_for(lambda: _cpu_samples(store_path, spinner.pid) >= 4, timeout_s=15,
                     what="four CPU samples of the busy child")
            stop_file.touch()
            spinner.wait(timeout=30)
        out, err = proc.communicate(timeout=30)
    finally:
        for p in (sleeper, spinner, proc):
            if p.poll() is None:
                p.kill()
        for p in (sleeper, spinner):
            p.wait()
        if proc.returncode is None:
            proc.communicate()
    assert proc.returncode == 0, err
    run_id = json.loads(out)["run"]["id"]
    with Store.open(store_path) as st:
        sleep_rss = st.series(run_id, name="process.rss_bytes", labels={"pid": str(sleeper.pid)})
        assert [s.labels["name"] for s in sleep_rss] == ["sleep"]
        # a tick every 250 ms for 5 s; a loaded machine may skip a few boundaries
        assert 15 <= len(st.samples(sleep_rss[0].id)) <= 21
        (sleep_cpu,) = st.series(run_id, name="process.cpu.pct",
                                 labels={"pid": str(sleeper.pid)})
        assert max(v for _, v in st.samples(sleep_cpu.id)) < 5.0
        (spin_cpu,) = st.series(run_id, name="process.cpu.pct", labels={"pid": str(spinner.pid)})
        spin_samples = st.samples(spin_cpu.id)
        events = st.events(run_id)
    # busy: its CPU % adds up to the CPU time the kernel charged it, whatever share of a core
    # it got on this machine (beside stress-ng on 2 cores, 10 % of one)
    assert check_recorded_cpu(spun, spin_samples) > 0.02  # it ran (the sleeper: < 5 % at most)
    assert [(e.text, e.attrs["pid"]) for e in events] == [("process exited", spinner.pid)]


def _disk_of(path: Path) -> str | None:
    """The whole block device holding ``path`` (vda for vda1), as iostat names it."""
    dev = os.stat(path).st_dev
    sys_dev = Path(f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}")
    if not sys_dev.exists():
        return None
    resolved = sys_dev.resolve()
    return resolved.parent.name if (resolved / "partition").exists() else resolved.name


def _loop_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path]]:
    """A file-backed loop device with an ext4 on it, mounted: a block device on any root.

    perflab records whole physical disks only (as node_exporter, it leaves loop devices out of
    a machine's figures); here the loop device stands in for one, so the collector is told to
    keep it. Unmounted and detached on every path.
    """
    require_root("to attach a loop device and mount it")
    losetup, mkfs, mount, umount = (require_tool(t) for t in ("losetup", "mkfs.ext4", "mount",
                                                                 "umount"))
    image = tmp_path / "disk.img"
    with image.open("wb") as f:
        f.truncate(2 * 2**30)  # sparse: only what is written takes space
    dev = subprocess.run([losetup, "--find", "--show", str(image)], capture_output=True,
                         text=True, check=True).stdout.strip()
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    mounted = False
    try:
        # inode tables and journal written now, not by a kernel thread during the comparison
        subprocess.run([mkfs, "-q", "-E", "lazy_itable_init=0,lazy_journal_init=0", dev],
                       check=True)
        subprocess.run([mount, dev, str(mnt)], check=True)
        mounted = True
        name = Path(dev).name
        physical = collect_system.is_physical_disk  # type: ignore[attr-defined]  # patched where used
        monkeypatch.setattr(collect_system, "is_physical_disk",
                            lambda n, root: n == name or physical(n, root))
        yield name, mnt
    finally:
        if mounted:
            subprocess.run([umount, str(mnt)], check=False)
        subprocess.run([losetup, "--detach", dev], check=False)


@pytest.fixture(params=["tmp_path", "loop device"])
def disk_and_dir(request: pytest.FixtureRequest, tmp_path: Path,
                 monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path]]:
    """A block device to write to and a directory on it: the tests' own, and a loop device
    (which runs also where the root is an overlay or tmpfs, as in a container)."""
    if request.param == "tmp_path":
        name = _disk_of(tmp_path)
        if name is None:
            pytest.skip(f"{tmp_path} is not on a block device (overlay or tmpfs); "
                        "the loop device variant of this test compares instead")
        yield name, tmp_path
    else:
        yield from _loop_disk(tmp_path, monkeypatch)


def test_disk_figures_match_iostat_at_the_same_moment(store, disk_and_dir):
    iostat = require_tool("iostat")
    require_tool("dd")
    disk, directory = disk_and_dir
    target = directory / "io.bin"
    # steady direct writes for the whole comparison (bounded: at most 1.6 GB, killed after)
    dd = subprocess.Popen(["dd", "if=/dev/zero", f"of={target}", "bs=16k", "count=100000",
                           "oflag=direct"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.3)  # let dd reach a steady rate
        run_id = store.create_run("record", "iostat").id
        rec = Recorder(store, run_id, 1.0)
        result: dict[str, str] = {}

        def run_iostat() -> None:
            result["out"] = subprocess.run([iostat, "-x", "-d", "-o", "JSON", "1", "2"],
                                           capture_output=True, text=True, check=True).stdout

        thread = threading.Thread(target=run_iostat)
        thread.start()
        rec.tick()  # both take their first reading now ...
        time.sleep(1.0)
        rec.tick()  # ... and their second one a second later
        thread.join(10)
        still_writing = dd.poll() is None
    finally:
        dd.kill()
        dd.wait()
    assert still_writing, "dd finished before the comparison ended; raise its count"
    stats = json.loads(result["out"])["sysstat"]["hosts"][0]["statistics"][1]["disk"]
    theirs = next(d for d in stats if d["disk_device"] == disk)

    def ours(name: str) -> float:
        (series,) = store.series(run_id, name=name, labels={"device": disk})
        return store.samples(series.id)[-1][1]

    assert theirs["w/s"] > 50, f"too little I/O to compare: {theirs}"
    assert ours("system.disk.writes_per_s") == pytest.approx(theirs["w/s"], rel=0.15)
    assert ours("system.disk.write_bytes_per_s") / 1024 == pytest.approx(theirs["wkB/s"],
                                                                          rel=0.15)
    assert ours("system.disk.util_pct") == pytest.approx(theirs["util"], abs=15)

"""`perflab record --profile PID` against a real busy Python child with py-spy: slices on the
run's timeline, a range read back merged, Ctrl-C keeps what was sampled."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests._cpu_time import CpuTimeline, check_recorded_cpu
from tests._schemas import validate
from tests.conftest import wait_for_child

from perflab.profile import find_tool, profile_of_range, profile_slices
from perflab.store import Store

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
BUSY = """
import time
def spin_in_busy_child(n):
    s = 0
    for i in range(n):
        s += i * i
    return s
end = time.time() + 60
while time.time() < end:
    spin_in_busy_child(50_000)
"""


@pytest.fixture
def busy(tmp_path):
    if find_tool("py-spy") is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("py-spy is a dev dependency and must be installed in CI")
        pytest.skip("py-spy not installed")
    script = tmp_path / "busy.py"
    script.write_text(BUSY)
    proc = subprocess.Popen([sys.executable, str(script)])
    time.sleep(0.3)  # past the interpreter's start
    yield proc
    proc.kill()
    proc.wait()


def functions(prof) -> set[str]:
    return {f.function for f in prof.frames}


def test_record_profile_stores_slices_on_the_timeline(store_path, busy):
    with CpuTimeline(busy.pid) as busy_cpu:  # what the kernel charged it: the reference
        done = subprocess.run(
            [sys.executable, "-m", "perflab", "record", "--store", str(store_path),
             "--duration", "3s", "--interval", "500ms", "--profile", str(busy.pid),
             "--profile-slice", "1s", "--profile-rate", "49", "--json"],
            env=ENV, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    validate(doc, "record")
    assert doc["profile"]["pids"] == [busy.pid]
    assert doc["profile"]["backends"][str(busy.pid)].startswith("py-spy")
    assert doc["profile"]["slices"] >= 2
    assert (doc["profile"]["rate_hz"], doc["profile"]["slice_s"]) == (49, 1.0)
    assert doc["profile"]["samples"] > 25  # ~49 Hz for ~3 s, minus restarts between slices
    run = doc["run"]
    with Store.open(store_path, create=False) as store:
        slices = profile_slices(store, run["id"])
        assert len(slices) == doc["profile"]["slices"]
        assert sum(s.samples for s in slices) == doc["profile"]["samples"]
        # consecutive, non-overlapping windows inside the run
        for prev, nxt in itertools.pairwise(slices):
            assert prev.end_ns <= nxt.start_ns
        assert slices[0].start_ns >= run["started_ns"]
        assert slices[-1].end_ns <= run["ended_ns"]
        assert {(s.pid, s.backend) for s in slices} == {(busy.pid, "py-spy")}
        # sampled at 49 Hz over the slices' own windows (which a busy machine may stretch past
        # the 3 s asked), well under what 99 Hz would give
        covered_s = sum(s.end_ns - s.start_ns for s in slices) / 1e9
        assert doc["profile"]["samples"] <= 49 * covered_s * 1.2 + 5, covered_s
        # a range of one slice, and the whole run merged
        one = profile_of_range(store, run["id"], slices[0].start_ns, slices[0].end_ns)
        assert one.total(0) == slices[0].samples
        whole = profile_of_range(store, run["id"])
        assert whole.total(0) == doc["profile"]["samples"]
        assert "spin_in_busy_child" in functions(whole)
        # the profiled process is recorded too: its CPU beside its flame graph
        cpu = store.series(run["id"], name="process.cpu.pct", labels={"pid": str(busy.pid)})
        assert cpu
        # busy: its CPU % adds up to the CPU time the kernel charged it, whatever share of a
        # core it got (beside stress-ng --cpu 2 on 2 cores, 10 % of one)
        assert check_recorded_cpu(busy_cpu, store.samples(cpu[0].id)) > 0.02


def test_ctrl_c_keeps_what_was_sampled(store_path, busy):
    proc = subprocess.Popen(
        [sys.executable, "-m", "perflab", "record", "--store", str(store_path), "--profile",
         str(busy.pid), "--profile-slice", "30s"], env=ENV, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    wait_for_child(proc.pid, "py-spy")
    time.sleep(1.0)  # sampling for a second (not a guess at start-up): > 20 samples at 99 Hz
    proc.send_signal(signal.SIGINT)  # mid-slice: the only slice is cut short
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "profile: 1 slices" in out
    with Store.open(store_path, create=False) as store:
        run = store.run("last")
        assert run.status == "aborted"
        (only,) = profile_slices(store, run.id)
        assert only.samples > 20
        assert only.end_ns - only.start_ns < 20 * 1_000_000_000
        assert run.meta["profile"]["slices"] == 1


def test_bad_profile_targets_are_refused_before_a_run_exists(store_path):
    sleeper = subprocess.Popen(["sleep", "30"])  # not Python: py-spy cannot profile it
    try:
        _refused(store_path, sleeper.pid)
    finally:
        sleeper.kill()
        sleeper.wait()
    if store_path.exists():
        with Store.open(store_path, create=False) as store:
            assert store.runs() == []


def _refused(store_path: Path, native_pid: int) -> None:
    for args, code, message in (
        (["--profile", "999999999"], 3, "no process with PID 999999999"),
        (["--profile", str(os.getpid()), "--profile-slice", "200ms"], 2,
         "--profile-slice must be at least 1s"),
        (["--profile", str(native_pid), "--profile-backend", "py-spy"], 2,
         "py-spy profiles Python processes only"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "perflab", "record", "--store", str(store_path),
             "--duration", "1s", *args], env=ENV, capture_output=True, text=True, timeout=30,
            check=False)
        assert done.returncode == code, done.stderr
        assert message in done.stderr
        assert "Traceback" not in done.stderr


def test_show_says_where_the_profile_slices_are(store_path, busy):
    done = subprocess.run(
        [sys.executable, "-m", "perflab", "record", "--store", str(store_path), "--duration",
         "2s", "--profile", str(busy.pid), "--profile-slice", "1s"], env=ENV,
        capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    shown = subprocess.run([sys.executable, "-m", "perflab", "show", "last", "--store",
                            str(store_path), "--json"], env=ENV, capture_output=True, text=True,
                           timeout=30, check=True)
    doc = json.loads(shown.stdout)
    validate(doc, "show")
    assert doc["profile"]["pids"] == [busy.pid]
    assert doc["profile"]["slices"] >= 1
    assert doc["profile"]["backends"] == ["py-spy"]
    text = subprocess.run([sys.executable, "-m", "perflab", "show", "last", "--store",
                           str(store_path)], env=ENV, capture_output=True, text=True,
                          timeout=30, check=True).stdout
    assert f"slices of PID {busy.pid} (py-spy)" in text

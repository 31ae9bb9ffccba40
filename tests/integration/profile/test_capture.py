"""`perflab profile` against real targets with perf, bpftrace, py-spy and Go's pprof server."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from tests._cpu_time import CpuTimeline
from tests._schemas import validate
from tests.conftest import require_root as need_root
from tests.conftest import wait_for, wait_for_child

from perflab.cli import main
from perflab.errors import PerflabError
from perflab.profile import TopOptions, read_profile, top
from perflab.store import Store

pytestmark = [pytest.mark.integration, pytest.mark.root]

SPIN_PY = textwrap.dedent("""
    import sys, time
    def inner(n):
        s = 0
        for i in range(n):
            s += i * i
        return s
    def outer():
        return inner(20000)
    end = time.time() + float(sys.argv[1])
    print("ready", flush=True)
    while time.time() < end:
        outer()
""")
SLEEPY_PY = textwrap.dedent("""
    import sys, time
    def napper():
        time.sleep(0.005)
    print("ready", flush=True)
    end = time.time() + float(sys.argv[1])
    while time.time() < end:
        napper()
""")

# a reader blocked on a pipe that a second thread feeds every 2 ms: two blocking sites
PIPE_PY = textwrap.dedent("""
    import os, sys, threading, time
    r, w = os.pipe()
    def feeder():
        while True:
            time.sleep(0.002)
            os.write(w, b"x")
    def reader():
        return os.read(r, 1)
    threading.Thread(target=feeder, daemon=True).start()
    print("ready", flush=True)
    end = time.time() + float(sys.argv[1])
    while time.time() < end:
        reader()
""")


def functions(path: Path) -> set[str]:
    prof = read_profile(path)
    return {r.name for r in top(prof, TopOptions(node_fraction=0)).rows}


def start(argv: list[str]) -> subprocess.Popen[str]:
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    proc.stdout.readline()  # "ready" (or the Go server's address)
    return proc


def stop(proc: subprocess.Popen[str]) -> None:
    proc.kill()
    proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def capture_json(capsys, *args: str) -> dict:
    code = main(["profile", "--json", *args])
    out = capsys.readouterr().out
    assert code == 0, out
    doc = json.loads(out)
    validate(doc, "profile-capture")
    return doc


@pytest.fixture
def require_root():
    need_root("perf and bpftrace sample other processes")


def test_perf_profiles_a_go_process_by_pid(go_workload, tmp_path, capsys, require_root):
    proc = subprocess.Popen([str(go_workload.binary), "spin", "20"], stdout=subprocess.DEVNULL)
    try:
        out = tmp_path / "go.pb.gz"
        doc = capture_json(capsys, str(proc.pid), "--duration", "1.5s", "-o", str(out))
    finally:
        proc.kill()
        proc.wait()
    assert doc["backend"] == "perf"
    assert "Go" in doc["reason"]
    assert doc["samples"] > 5
    assert "main.hotLoop" in functions(out)
    # and go tool pprof reads what we wrote
    assert "main.hotLoop" in go_workload.pprof_top(out)


def test_py_spy_is_chosen_for_python_and_sees_python_frames(tmp_path, capsys, require_root):
    script = tmp_path / "spin.py"
    script.write_text(SPIN_PY)
    proc = start([sys.executable, str(script), "20"])
    try:
        out = tmp_path / "py.pb.gz"
        doc = capture_json(capsys, str(proc.pid), "-d", "1.5s", "-o", str(out))
    finally:
        stop(proc)
    assert doc["backend"] == "py-spy"
    assert {"inner", "outer"} <= functions(out)


def test_command_after_double_dash_runs_to_its_end(go_workload, tmp_path, capsys, require_root):
    out = tmp_path / "cmd.pb.gz"
    doc = capture_json(capsys, "-o", str(out), "--", str(go_workload.binary), "spin", "1")
    assert doc["backend"] == "perf"
    assert doc["exited_early"] is False
    assert "main.hotLoop" in functions(out)


def test_process_exiting_mid_profile_keeps_what_was_sampled(go_workload, tmp_path, capsys,
                                                            require_root):
    # 4 s: long enough that perf is attached before the target ends even on a busy machine (perf
    # can take over a second to start there), short against the 20 s asked for
    proc = subprocess.Popen([str(go_workload.binary), "spin", "4"], stdout=subprocess.DEVNULL)
    try:
        out = tmp_path / "short.pb.gz"
        t0 = time.monotonic()
        doc = capture_json(capsys, str(proc.pid), "--duration", "20s", "-o", str(out))
        assert time.monotonic() - t0 < 15  # stopped with the target, not after 20 s
    finally:
        proc.wait()
    assert doc["exited_early"] is True
    assert any("exited" in n for n in doc["notes"])
    assert doc["samples"] > 0
    assert out.exists()


def test_bpftrace_cpu_and_offcpu_and_wall(go_workload, tmp_path, capsys, require_root):
    script = tmp_path / "sleepy.py"
    script.write_text(SLEEPY_PY)
    spin = subprocess.Popen([str(go_workload.binary), "spin", "30"], stdout=subprocess.DEVNULL)
    sleepy = start([sys.executable, str(script), "30"])
    try:
        cpu = capture_json(capsys, str(spin.pid), "--backend", "bpftrace", "-d", "1.5s",
                           "-o", str(tmp_path / "cpu.pb.gz"))
        off = capture_json(capsys, str(sleepy.pid), "--mode", "offcpu", "-d", "1s",
                           "-o", str(tmp_path / "off.pb.gz"))
        wall = capture_json(capsys, str(spin.pid), "--mode", "wall", "-d", "1s",
                            "-o", str(tmp_path / "wall.pb.gz"))
    finally:
        spin.kill()
        spin.wait()
        stop(sleepy)
    assert cpu["backend"] == "bpftrace"
    assert "main.hotLoop" in functions(tmp_path / "cpu.pb.gz")
    assert off["backend"] == "bpftrace"
    assert off["sample_type"] == "offcpu"
    # 200 naps a second, each ~5 ms off-CPU: most of the second is spent asleep
    assert off["total"] > 0.3e9
    assert any("sleep" in f for f in functions(tmp_path / "off.pb.gz"))
    assert wall["sample_type"] == "wall"
    assert wall["backend"] == "bpftrace"


def test_sampled_offcpu_profile_still_finds_the_blocking_sites(tmp_path, capsys, require_root):
    script = tmp_path / "pipe.py"
    script.write_text(PIPE_PY)
    proc = start([sys.executable, str(script), "30"])
    try:
        out = tmp_path / "off.pb.gz"
        doc = capture_json(capsys, str(proc.pid), "--mode", "offcpu", "--offcpu-sample", "8",
                           "-d", "1s", "-o", str(out))
    finally:
        stop(proc)
    assert any("an estimate" in n and "1 in 8" in n for n in doc["notes"])
    assert any("1 in 8" in c for c in read_profile(out).comments)
    names = functions(out)
    # ~500 switch-outs a second per thread: 1 in 8 still sees both sites
    assert any("pipe_read" in f for f in names)  # the reader, in the kernel
    assert any("nanosleep" in f for f in names)  # the feeder
    # both threads are blocked most of the second; the estimate is counted 8 times per stack
    assert doc["total"] > 0.6e9


def test_pprof_url_fetches_cpu_and_snapshots(go_workload, tmp_path, capsys):
    proc = subprocess.Popen([str(go_workload.binary), "serve", "127.0.0.1:0"],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        addr = proc.stdout.readline().strip()  # the server prints where it listens
        out = tmp_path / "svc.pb.gz"
        doc = capture_json(capsys, "--pprof", f"http://{addr}", "-d", "1s", "-o", str(out))
    finally:
        stop(proc)
    assert doc["backend"] == "pprof"
    assert set(doc["extra_files"]) >= {"heap", "allocs", "goroutine", "mutex", "block"}
    assert "main.hotLoop" in functions(out)
    assert read_profile(doc["extra_files"]["heap"]).sample_types[-1].type == "inuse_space"


def test_errors_name_the_cause(capsys):
    assert main(["profile", "999999999"]) == 3
    assert "no process with PID" in capsys.readouterr().err
    assert main(["profile", "--backend", "perf", "--mode", "offcpu", "1"]) == 2
    assert "perf samples on-CPU time only" in capsys.readouterr().err
    assert main(["profile", "--offcpu-sample", "8", "1"]) == 2  # cpu mode has no switches
    assert "--offcpu-sample samples bpftrace's off-CPU probe" in capsys.readouterr().err
    assert main(["profile", "--pprof", "http://127.0.0.1:1", "-d", "1s"]) == 3
    assert "cannot fetch" in capsys.readouterr().err
    assert main(["profile"]) == 2


def _profile_slices_stored(db: Path) -> int:
    if not db.exists():
        return 0
    with contextlib.suppress(PerflabError), Store.open(db, create=False) as store:
        return sum(len(store.artifacts(run.id, "profile")) for run in store.runs())
    return 0  # the file exists but holds no schema yet


def test_continuous_profiling_stores_slices_on_a_run(go_workload, tmp_path, require_root):
    """Slices on a run's timeline, until Ctrl-C. Stopped once three are stored, not after a
    fixed duration: on a busy machine the first slice (perf starting, choosing its unwinding)
    alone can take seconds."""
    proc = subprocess.Popen([str(go_workload.binary), "spin", "60"], stdout=subprocess.DEVNULL)
    db = tmp_path / "store.db"
    try:
        with CpuTimeline(proc.pid) as spun:  # what the kernel charged it: the reference
            prof = subprocess.Popen([sys.executable, "-m", "perflab", "profile", str(proc.pid),
                                     "--slice", "1s", "--duration", "2m", "--store", str(db),
                                     "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True)
            try:
                wait_for(lambda: _profile_slices_stored(db) >= 3, timeout_s=90,
                         what="three profile slices")
                prof.send_signal(signal.SIGINT)
                out, err = prof.communicate(timeout=60)
            finally:
                if prof.poll() is None:
                    prof.kill()
                    prof.communicate()
    finally:
        proc.kill()
        proc.wait()
    assert prof.returncode == 130, err  # interrupted, keeping what was sampled
    doc = json.loads(out)
    validate(doc, "profile-continuous")
    assert doc["status"] == "interrupted"
    assert doc["slices"] >= 3
    store = Store.open(db)
    try:
        slices = store.artifacts(doc["run"], "profile")
        windows = [(a.ts_ns, a.end_ns) for a in slices if a.end_ns is not None]
        samples = [a.attrs["samples"] for a in store.artifacts(doc["run"], "profile")]
    finally:
        store.close()
    assert len(windows) == len(slices) == doc["slices"]  # every slice has its end
    # consecutive slices, in order, none overlapping the next
    assert all(s < e for s, e in windows)
    assert all(windows[i][1] <= windows[i + 1][0] for i in range(len(windows) - 1))
    # after the first, one perf runs on and is switched at each boundary: no gaps, and the
    # samples cover the windows: 99 per second of CPU the target got in them (perf's cpu-clock
    # counts the target's own time), whatever share of a core it got on this machine
    assert all(windows[i][1] == windows[i + 1][0] for i in range(1, len(windows) - 1))
    least, most = spun.between(windows[1][0], windows[-1][1])
    assert 0.5 * 99 * least - 2 <= sum(samples[1:]) <= 1.5 * 99 * most + 2, (least, most)
    html = tmp_path / "all.html"
    assert main(["profile", "export", str(doc["run"]), "-o", str(html), "--store", str(db)]) == 0
    assert "main.hotLoop" in html.read_text()


@pytest.mark.parametrize("backend", ["perf", "bpftrace"])
def test_stripped_binary_frames_show_module_and_file_offset(go_workload, tmp_path, capsys,
                                                            require_root, backend):
    stripped = go_workload.workdir / "workload-stripped"
    proc = subprocess.Popen([str(stripped), "spin", "20"], stdout=subprocess.DEVNULL)
    try:
        out = tmp_path / "s.pb.gz"
        doc = capture_json(capsys, str(proc.pid), "--backend", backend, "-d", "1s",
                           "-o", str(out))
    finally:
        proc.kill()
        proc.wait()
    assert any("no symbols" in n and "workload-stripped" in n for n in doc["notes"])
    names = {f.name for f in read_profile(out).frames}
    offsets = {n for n in names if n.startswith("workload-stripped+0x")}
    assert offsets
    # a file offset lies inside the file, unlike the virtual address it came from
    size = stripped.stat().st_size
    assert all(int(n.rsplit("+", 1)[1], 16) < size for n in offsets)


def test_ctrl_c_writes_what_was_sampled_and_exits_130(go_workload, tmp_path, require_root):
    proc = subprocess.Popen([str(go_workload.binary), "spin", "30"], stdout=subprocess.DEVNULL)
    out = tmp_path / "int.pb.gz"
    try:
        prof = subprocess.Popen([sys.executable, "-m", "perflab", "profile", str(proc.pid),
                                 "-d", "30s", "-o", str(out)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        assert prof.stderr is not None
        line = prof.stderr.readline()  # "profiling PID (cpu) with perf ...": it starts now
        tool = line.split(" with ")[1].split()[0]
        wait_for_child(prof.pid, tool)
        time.sleep(1.0)  # sampling for a second, not a guess at start-up
        prof.send_signal(signal.SIGINT)
        stdout, stderr = prof.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    assert prof.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "main.hotLoop" in stdout
    assert read_profile(out).total(0) > 0


def test_python_command_gets_py_spy_and_its_output_stays_out_of_json(tmp_path, capsys,
                                                                     require_root):
    script = tmp_path / "spin.py"
    script.write_text(SPIN_PY)
    out = tmp_path / "cmd.pb.gz"
    doc = capture_json(capsys, "-o", str(out), "--", sys.executable, str(script), "1")
    assert doc["backend"] == "py-spy"
    assert {"inner", "outer"} <= functions(out)

"""`inspect_process` against the checked-in fake process (tests/fixtures/proc_one/4242)."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from rich.console import Console
from tests._schemas import validate

from perflab.cli import main
from perflab.cli._proc_view import build_view
from perflab.collect.procinfo import ProcessReport, inspect_process
from perflab.errors import NoSuchProcess, TargetError

FIXTURE = Path(__file__).parent.parent / "fixtures" / "proc_one"
KB = 1024


class FakeClock:
    """A monotonic clock that advances only when the reader sleeps."""

    def __init__(self, on_sleep=None):
        self.now = 100.0
        self.on_sleep = on_sleep

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        if self.on_sleep is not None:
            self.on_sleep()


def inspect(root: Path = FIXTURE, pid: int = 4242, on_sleep=None, **kw) -> ProcessReport:
    clock = FakeClock(on_sleep)
    return inspect_process(pid, proc_root=root, sleep=clock.sleep, mono_clock=clock, **kw)


@pytest.fixture
def proc_copy(tmp_path: Path) -> Path:
    """A writable copy of the fixture, for processes that change or exit while being read."""
    root = tmp_path / "proc"
    shutil.copytree(FIXTURE, root, symlinks=True)
    return root


def test_identity():
    ident = inspect().identity
    assert ident.pid == 4242
    assert ident.ppid == 1
    assert ident.name == "app (main)"
    assert ident.cmdline == ["python3", "/srv/app/server.py", "--port", "8080"]
    assert ident.exe == "/usr/bin/python3.11"
    assert ident.cwd == "/srv/app"
    assert ident.state == "S (sleeping)"
    assert ident.uid == (1000, 1001, 1002, 1003)
    assert ident.gid == (2000, 2001, 2002, 2003)
    # btime 1700000000 + starttime 360000 ticks at USER_HZ 100
    assert ident.start_time_ns == (1_700_000_000 + 3600) * 1_000_000_000
    assert ident.cgroup == "/system.slice/app.service"
    assert [lim.name for lim in ident.limits][:2] == ["Max cpu time", "Max file size"]
    assert not ident.kernel_thread


def test_kernel_thread_is_told_apart_from_a_zombie(proc_copy: Path):
    base = proc_copy / "4242"
    (base / "cmdline").write_text("")
    status = (base / "status").read_text()
    no_mem = "".join(line + "\n" for line in status.splitlines()
                     if not line.startswith(("Vm", "Rss")))
    (base / "status").write_text(no_mem)
    assert inspect(proc_copy, interval=0).identity.kernel_thread
    (base / "status").write_text(no_mem.replace("S (sleeping)", "Z (zombie)"))
    report = inspect(proc_copy, interval=0)
    assert not report.identity.kernel_thread
    assert "zombie" in report.notes[0]
    (base / "status").write_text(no_mem + "Kthread:\t1\n")
    assert "kernel thread" in inspect(proc_copy, interval=0).notes[0]


def test_threads_have_names_states_wchan_and_switches():
    report = inspect(interval=0)
    by_tid = {t.tid: t for t in report.threads}
    assert set(by_tid) == {4242, 4243}
    main_t, worker = by_tid[4242], by_tid[4243]
    assert (main_t.name, main_t.state, main_t.wchan) == ("app (main)", "S", "do_epoll_wait")
    assert (worker.name, worker.state, worker.wchan) == ("worker-1", "R", "")  # "0": running
    assert worker.cpu_user_s == pytest.approx(0.4)
    assert worker.cpu_system_s == pytest.approx(0.1)
    assert worker.runqueue_wait_s == pytest.approx(0.01)
    assert (worker.voluntary_ctxt_switches, worker.involuntary_ctxt_switches) == (7, 40)
    assert worker.last_cpu == 0
    assert worker.cpu_pct is None  # not measured without an interval, rather than 0


def test_scheduling_totals_are_sums_over_threads():
    s = inspect(interval=0).scheduling
    assert s is not None
    assert s.threads == 2
    assert s.cpu_user_s == pytest.approx(2.5)
    assert s.cpu_system_s == pytest.approx(1.3)
    # /proc/PID/schedstat is the main thread's alone; the process is the sum of its threads
    assert s.on_cpu_s == pytest.approx(2.5)
    assert s.runqueue_wait_s == pytest.approx(0.04)
    assert s.timeslices == 900
    assert (s.voluntary_ctxt_switches, s.involuntary_ctxt_switches) == (107, 45)
    assert (s.minor_faults, s.major_faults) == (1500, 3)
    assert s.cpu_pct is None  # nothing measured without an interval


def test_rates_over_the_interval(proc_copy: Path):
    task = proc_copy / "4242" / "task"

    def worker_runs() -> None:
        # in 0.5 s the worker ran 0.25 s and waited 0.1 s over 50 timeslices; 20 more
        # involuntary switches; the process's stat gained 30 ticks (0.3 s) of user time
        (task / "4243" / "schedstat").write_text("750000000 110000000 250\n")
        status = (task / "4243" / "status").read_text()
        (task / "4243" / "status").write_text(
            status.replace("nonvoluntary_ctxt_switches:\t40", "nonvoluntary_ctxt_switches:\t60"))
        stat = (proc_copy / "4242" / "stat").read_text()
        (proc_copy / "4242" / "stat").write_text(stat.replace(" 250 130 ", " 280 130 "))
        io_text = (proc_copy / "4242" / "io").read_text()
        (proc_copy / "4242" / "io").write_text(
            io_text.replace("read_bytes: 40960", "read_bytes: 1089536"))

    report = inspect(proc_copy, on_sleep=worker_runs, interval=0.5)
    s = report.scheduling
    assert s is not None
    assert s.interval_s == pytest.approx(0.5)
    assert s.cpu_pct == pytest.approx(60.0)
    assert s.runqueue_wait_pct == pytest.approx(20.0)
    assert s.timeslices_per_s == pytest.approx(100.0)
    assert s.wait_per_timeslice_s == pytest.approx(0.002)
    assert s.involuntary_ctxt_switches_per_s == pytest.approx(40.0)
    assert s.voluntary_ctxt_switches_per_s == 0
    worker = report.threads[0]
    assert worker.tid == 4243  # busiest first
    assert worker.cpu_pct == pytest.approx(50.0)
    assert worker.runqueue_wait_pct == pytest.approx(20.0)
    assert report.threads[1].cpu_pct == 0
    assert report.io is not None
    assert report.io.read_bytes_per_s == pytest.approx(2 * 1048576)


def test_memory_summary_and_pmap_like_maps():
    mem = inspect(interval=0, top_maps=3).memory
    assert mem is not None
    assert mem.rss == 51200 * KB  # VmRSS, the counter ps shows
    assert (mem.rss_anon, mem.rss_file, mem.rss_shmem) == (40000 * KB, 11000 * KB, 200 * KB)
    assert mem.pss == 42350 * KB
    assert mem.uss == (208 + 42040) * KB
    assert mem.swap == 64 * KB
    assert mem.vsize == 102400 * KB
    maps = mem.maps
    assert maps is not None
    assert maps.count == 6
    assert [m.name for m in maps.top] == ["[heap]", "[anon]", "/usr/lib/x86_64-linux-gnu/libc.so.6"]
    assert maps.total_rss == 43252 * KB  # over all six, not only the three shown
    assert maps.total_size == (8 + 32768 + 20480 + 2048 + 4 + 132) * KB


def test_open_files_like_lsof():
    files = inspect(interval=0).files
    assert files is not None
    by_fd = {f.fd: f for f in files}
    assert [f.fd for f in files] == [0, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11]
    assert (by_fd[0].type, by_fd[0].name, by_fd[0].mode) == ("CHR", "/dev/null", "r")
    assert (by_fd[1].type, by_fd[1].pos, by_fd[1].mode) == ("REG", 1234, "w")
    assert by_fd[1].flags == ["WRONLY", "APPEND", "CLOEXEC"]
    assert (by_fd[3].type, by_fd[3].name) == ("TCP", "127.0.0.1:8080 (LISTEN)")
    assert by_fd[3].socket is not None
    assert by_fd[3].socket.state == "LISTEN"
    assert (by_fd[4].type, by_fd[4].name) == ("TCP", "[::1]:8080->[::1]:54321 (ESTAB)")
    assert by_fd[4].socket is not None
    assert by_fd[4].socket.family == "IPv6"
    assert (by_fd[5].type, by_fd[5].name) == ("UDP", "0.0.0.0:5353 (UNCONN)")
    assert (by_fd[6].type, by_fd[6].name) == ("unix", "/run/app.sock (LISTEN)")
    assert (by_fd[7].type, by_fd[7].name) == ("FIFO", "pipe:[2001]")
    assert (by_fd[8].type, by_fd[8].name) == ("a_inode", "anon_inode:[eventfd]")
    assert by_fd[8].extra["eventfd-count"] == "5"
    assert by_fd[9].deleted
    assert (by_fd[10].type, by_fd[10].name, by_fd[10].socket) == ("sock", "socket:[9999]", None)
    assert by_fd[11].type == "netlink"


def test_io_counters():
    counters = inspect(interval=0).io
    assert counters is not None
    assert (counters.rchar, counters.wchar, counters.syscr, counters.syscw) == (
        123456, 65432, 321, 123)
    assert (counters.read_bytes, counters.write_bytes, counters.cancelled_write_bytes) == (
        40960, 8192, 4096)


def test_complete_read_has_nothing_unavailable():
    report = inspect(interval=0)
    assert report.unavailable == {}
    assert report.notes == []


def test_a_thread_id_shows_its_process(proc_copy: Path):
    # /proc/4243 is reachable though not listed: the worker thread, whose Tgid is 4242
    shutil.copytree(proc_copy / "4242", proc_copy / "4243", symlinks=True)
    status = proc_copy / "4243" / "status"
    status.write_text(status.read_text().replace("Pid:\t4242", "Pid:\t4243"))
    report = inspect(proc_copy, pid=4243, interval=0)
    assert report.identity.pid == 4242
    assert report.notes == ["4243 is a thread of process 4242: showing the process"]


def test_no_such_pid():
    with pytest.raises(NoSuchProcess, match="no process with PID 999"):
        inspect(pid=999)


def test_no_such_pid_under_hidepid_says_it_may_be_hidden(proc_copy: Path, monkeypatch):
    (proc_copy / "self").mkdir()
    (proc_copy / "self" / "mounts").write_text(
        f"proc {proc_copy} proc rw,nosuid,relatime,hidepid=invisible 0 0\n")
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    with pytest.raises(NoSuchProcess) as err:
        inspect(proc_copy, pid=999)
    assert err.value.hint is not None
    assert "hidepid" in err.value.hint


def test_process_exiting_mid_read_keeps_what_was_read(proc_copy: Path):
    report = inspect(proc_copy, on_sleep=lambda: shutil.rmtree(proc_copy / "4242"),
                     interval=0.5)
    assert report.identity.cmdline[0] == "python3"
    assert report.scheduling is None
    assert report.files is None
    assert report.unavailable["files"] == "process exited"
    assert "exited while being read" in report.notes[0]


def test_pid_reused_mid_read_is_an_exit_not_a_mix_of_two_processes(proc_copy: Path):
    def reuse() -> None:
        stat = proc_copy / "4242" / "stat"
        stat.write_text(stat.read_text().replace(" 360000 ", " 999999 "))

    report = inspect(proc_copy, on_sleep=reuse, interval=0.5)
    assert report.scheduling is None
    assert "exited while being read" in report.notes[0]


def test_process_gone_before_its_identity_is_no_such_process(proc_copy: Path):
    (proc_copy / "4242" / "status").unlink()
    (proc_copy / "4242" / "stat").unlink()
    with pytest.raises(NoSuchProcess):
        inspect(proc_copy)


def test_ctrl_c_during_the_interval_still_reports_what_was_measured():
    def interrupt() -> None:
        raise KeyboardInterrupt

    report = inspect(on_sleep=interrupt, interval=0.5)
    assert report.interrupted
    assert report.notes[0].startswith("interrupted: rates cover the 0.50s measured")
    assert report.scheduling is not None
    assert report.files is not None


def test_malformed_stat_is_a_clear_error_not_a_traceback(proc_copy: Path):
    (proc_copy / "4242" / "stat").write_text("4242 (app) S\n")
    with pytest.raises(TargetError, match="cannot parse"):
        inspect(proc_copy)


def test_malformed_file_mid_read_keeps_what_was_read(proc_copy: Path):
    (proc_copy / "4242" / "limits").write_text("garbage\n")  # skipped rows, not an error
    def break_smaps() -> None:
        (proc_copy / "4242" / "status").write_text("Name:\tapp\nVmRSS:\tlots kB\n")

    report = inspect(proc_copy, on_sleep=break_smaps, interval=0.5)
    assert report.identity.limits == []
    assert report.scheduling is not None
    assert report.memory is None
    assert report.unavailable["memory"] == "not read (error)"
    assert "unexpected error" in report.notes[0]


def test_zombie_gets_a_note(proc_copy: Path):
    status = proc_copy / "4242" / "status"
    status.write_text(status.read_text().replace("S (sleeping)", "Z (zombie)"))
    assert "zombie" in inspect(proc_copy, interval=0).notes[0]


def test_json_of_the_fixture_matches_the_documented_schema():
    doc = {"schema": "perflab.proc/1", **inspect(interval=0).to_json()}
    validate(doc, "proc")


@pytest.mark.parametrize("width", [100, 80])
def test_terminal_view_fits_the_width(width: int):
    report = inspect(interval=0)
    console = Console(width=width, file=io.StringIO(), color_system=None, record=True)
    for part in build_view(report, width=width, top_threads=20, top_files=50, reader="root",
                           now=lambda: 1_700_003_700.0):
        console.print(part)
    text = console.export_text()
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width
    assert "started  2023-11-14 23:13:20 UTC (1m40s ago)" in text
    assert "[heap]" in text  # not swallowed as rich markup
    assert "127.0.0.1:8080 (LISTEN)" in text
    assert "/run/app.sock (LISTEN) STREAM" in text
    assert "do_epoll_wait" in text
    maps_header = next(line for line in lines if "ADDRESS" in line)
    assert ("PSS" in maps_header) == (width >= 100)  # narrow: PSS and SWAP columns dropped


def test_terminal_view_names_what_was_not_permitted(proc_copy: Path):
    report = inspect(interval=0)
    denied = ProcessReport(
        report.identity, report.scheduling, report.threads, report.memory, None, None,
        {"files": "permission denied (/proc/4242/fd)", "io": "permission denied (/proc/4242/io)"},
        [],
    )
    console = Console(width=100, file=io.StringIO(), color_system=None, record=True)
    for part in build_view(denied, width=100, top_threads=20, top_files=50, reader="nobody"):
        console.print(part)
    text = " ".join(console.export_text().replace("│", " ").split())
    assert "permission denied: I/O counters, open files" in text
    owner = report.identity.user  # uid 1000's name on this machine, or "1000"
    assert (f"perflab runs as nobody; the kernel shows these only to its user ({owner}) or root"
            in text)
    assert "sudo perflab proc 4242" in text


@pytest.mark.parametrize(("argv", "code", "message"), [
    (["proc", "0"], 2, "invalid PID 0"),
    (["proc", "abc"], 2, "'abc' is not a valid integer"),
    (["proc", "--", "-3"], 2, "invalid PID -3"),
    (["proc", "1", "--interval", "soon"], 2, "invalid duration"),
    (["proc", "1", "--maps", "-1"], 2, "--maps"),
])
def test_bad_input_exits_2_with_a_message(argv, code, message, capsys):
    assert main(argv) == code
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_missing_pid_exits_3_with_a_hint(capsys):
    assert main(["proc", "4194304", "--interval", "1ms"]) == 3  # above any pid_max
    err = capsys.readouterr().err
    assert "perflab: error: no process with PID 4194304" in err
    assert "hint:" in err

"""The process table read from the fake /proc: raw /proc/PID/stat fields and rates."""

import os
import pwd
import subprocess

import pytest
from proc_later import FIXTURE, advance, copy_tree

from perflab.collect import ProcessCollector
from perflab.collect._procfs import USER_HZ
from perflab.collect.processes import PAGE_SIZE, list_pids, parse_proc_io, parse_proc_stat


def _owner(pid: int) -> str:
    return pwd.getpwuid(os.stat(FIXTURE / str(pid)).st_uid).pw_name


def test_stat_parser_handles_spaces_and_parentheses_in_comm():
    st = parse_proc_stat((FIXTURE / "4242" / "stat").read_text())
    assert st.pid == 4242
    assert st.comm == "nginx: worker (1)"
    assert (st.state, st.ppid, st.minflt, st.majflt) == ("S", 4241, 2000, 5)
    assert st.utime_s == 500 / USER_HZ
    assert st.stime_s == 250 / USER_HZ
    assert st.num_threads == 1
    assert st.starttime == 5000
    assert st.vsize == 120000000
    assert st.rss_bytes == 2500 * PAGE_SIZE
    assert st.processor == 1
    assert st.delayacct_blkio_s == 12 / USER_HZ


def test_io_file():
    io = parse_proc_io((FIXTURE / "4242" / "io").read_text())
    assert io["read_bytes"] == 1048576
    assert io["write_bytes"] == 2097152
    assert io["rchar"] == 5000000


def test_list_pids_ignores_other_entries():
    assert sorted(list_pids(FIXTURE)) == [1, 4242, 4243]


def test_first_refresh_has_gauges_and_no_rates():
    rows = {r.pid: r for r in ProcessCollector(FIXTURE).refresh()}
    assert sorted(rows) == [1, 4242, 4243]
    py = rows[4243]
    assert py.name == "python3"
    assert py.cmdline == "python3 app.py --port 8080"
    assert py.ppid == 1
    assert py.state == "R"
    assert py.threads == 4
    assert py.rss_bytes == 25000 * PAGE_SIZE
    assert py.fds == 3
    assert py.user == _owner(4243)
    assert py.cpu_pct == 0.0
    assert py.read_bytes_s is None
    assert py.write_bytes_s is None
    assert rows[4242].fds == 7
    assert rows[4242].cmdline == "nginx: worker process"
    assert rows[1].cmdline == "/sbin/init splash"


def test_second_refresh_gives_cpu_percent_of_one_core_and_io_rates(tmp_path):
    root = copy_tree(tmp_path / "proc")
    now = [10.0]
    collector = ProcessCollector(root, mono_clock=lambda: now[0])
    collector.refresh()
    advance(root)
    now[0] += 2.0
    rows = {r.pid: r for r in collector.refresh()}
    py = rows[4243]
    assert py.cpu_pct == pytest.approx(100.0 * (200 / USER_HZ) / 2.0)
    assert py.write_bytes_s == pytest.approx(1048576.0)
    assert py.read_bytes_s == 0.0
    assert py.rss_bytes == 26000 * PAGE_SIZE
    assert rows[4242].cpu_pct == 0.0


def test_a_process_that_exits_is_skipped_not_an_error(tmp_path):
    root = copy_tree(tmp_path / "proc")
    collector = ProcessCollector(root)
    collector.refresh()
    for f in (root / "4242").rglob("*"):
        if f.is_file():
            f.unlink()
    assert sorted(r.pid for r in collector.refresh()) == [1, 4243]
    assert collector.refresh([4242, 4243])[0].pid == 4243


def test_kernel_threads_show_their_name_in_brackets(tmp_path):
    root = copy_tree(tmp_path / "proc")
    (root / "4242" / "cmdline").write_bytes(b"")
    rows = {r.pid: r for r in ProcessCollector(root).refresh()}
    assert rows[4242].cmdline == "[nginx: worker (1)]"


def test_io_and_fds_may_be_unreadable(tmp_path):
    root = copy_tree(tmp_path / "proc")
    (root / "4243" / "io").unlink()
    rows = {r.pid: r for r in ProcessCollector(root, with_fds=False).refresh()}
    assert rows[4243].fds is None
    assert rows[4243].read_bytes_s is None


def test_idle_processes_keep_their_io_and_fd_readings_until_the_recheck(tmp_path):
    """An unchanged stat line skips the io/fd reads; counters carry over, nothing is lost."""
    root = copy_tree(tmp_path / "proc")
    now = [0.0]
    collector = ProcessCollector(root, mono_clock=lambda: now[0], idle_recheck_s=10.0)
    collector.refresh()
    io = root / "4242" / "io"
    io.write_text(io.read_text().replace("write_bytes: 2097152", "write_bytes: 3145728"))
    (root / "4242" / "fd" / "7").touch()
    now[0] = 1.0
    idle = {r.pid: r for r in collector.refresh()}[4242]
    assert (idle.write_bytes_s, idle.fds) == (0.0, 7)  # stat unchanged: not re-read yet
    now[0] = 11.0
    rechecked = {r.pid: r for r in collector.refresh()}[4242]
    assert rechecked.write_bytes_s == 1048576 / 10.0  # the whole MiB, in the interval it shows
    assert rechecked.fds == 8


def test_a_process_that_ran_is_read_in_full(tmp_path):
    root = copy_tree(tmp_path / "proc")
    now = [0.0]
    collector = ProcessCollector(root, mono_clock=lambda: now[0], idle_recheck_s=10.0)
    collector.refresh()
    advance(root)  # 4243 used CPU and wrote 2 MiB
    now[0] = 2.0
    row = {r.pid: r for r in collector.refresh()}[4243]
    assert row.write_bytes_s == pytest.approx(1048576.0)
    assert row.cpu_pct > 0


def test_without_schedstat_an_unchanged_stat_line_is_the_idle_test(tmp_path):
    """Kernels without CONFIG_SCHED_INFO: the stat line decides instead."""
    root = copy_tree(tmp_path / "proc")
    for pid in (1, 4242, 4243):
        (root / str(pid) / "schedstat").unlink()
    now = [0.0]
    collector = ProcessCollector(root, mono_clock=lambda: now[0], idle_recheck_s=10.0)
    collector.refresh()
    io = root / "4242" / "io"
    io.write_text(io.read_text().replace("write_bytes: 2097152", "write_bytes: 3145728"))
    advance(root)
    now[0] = 2.0
    rows = {r.pid: r for r in collector.refresh()}
    assert rows[4242].write_bytes_s == 0.0  # stat unchanged: io not re-read yet
    assert rows[4243].write_bytes_s == pytest.approx(1048576.0)  # stat changed: read in full


def test_schedstat_catches_a_run_too_short_for_a_clock_tick(tmp_path):
    """A process that ran for microseconds has the same stat line but a new schedstat."""
    root = copy_tree(tmp_path / "proc")
    now = [0.0]
    collector = ProcessCollector(root, mono_clock=lambda: now[0], idle_recheck_s=10.0)
    collector.refresh()
    (root / "4242" / "schedstat").write_text("7500040000 90000000 12001\n")
    io = root / "4242" / "io"
    io.write_text(io.read_text().replace("write_bytes: 2097152", "write_bytes: 2101248"))
    now[0] = 1.0
    row = {r.pid: r for r in collector.refresh()}[4242]
    assert row.write_bytes_s == 4096.0


def test_kept_schedstat_descriptors_follow_processes_on_the_real_proc():
    """On /proc, schedstat stays open between refreshes and is closed when its process goes."""
    child = subprocess.Popen(["sleep", "30"])
    collector = ProcessCollector("/proc", idle_recheck_s=10.0)
    try:
        collector.refresh([child.pid, os.getpid()])
        assert child.pid in collector._sched_fds
        rows = collector.refresh([child.pid, os.getpid()])
        assert {r.pid for r in rows} == {child.pid, os.getpid()}
        child.kill()
        child.wait()
        rows = collector.refresh([child.pid, os.getpid()])
        assert [r.pid for r in rows] == [os.getpid()]
        assert child.pid not in collector._sched_fds
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        collector.close()
    assert collector._sched_fds == {}

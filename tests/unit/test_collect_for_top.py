"""The collector changes made for `perflab top`: stat/io parsing, fd counting, sockstat,
virtual interfaces, injectable user names."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from perflab.collect import ProcessCollector
from perflab.collect._procfs import is_virtual_interface, parse_sockstat
from perflab.collect.processes import (
    _fd_dir_size_counts,
    parse_proc_io,
    parse_proc_stat,
)

FIXTURE = Path(__file__).parent.parent / "fixtures" / "proc_top" / "t1"


def test_stat_comm_with_spaces_and_parentheses():
    st = parse_proc_stat((FIXTURE / "400" / "stat").read_text())
    assert (st.pid, st.comm, st.state, st.ppid, st.num_threads) == (400, "my app (v2)", "R", 200, 4)
    assert st.rss_bytes == 60_000 * os.sysconf("SC_PAGE_SIZE")


def test_malformed_stat_is_a_value_error():
    with pytest.raises(ValueError, match="malformed"):
        parse_proc_stat("garbage")


def test_io_parser_reads_the_counters_in_any_order():
    assert parse_proc_io("read_bytes: 5\nwrite_bytes: 6\nrchar: 7\nwchar: 8\n") == {
        "read_bytes": 5, "write_bytes": 6, "rchar": 7, "wchar": 8}


def test_fd_count_from_st_size_only_on_a_live_procfs(tmp_path):
    """A checked-in tree has no /proc/self: fds are counted by listing the directory."""
    assert _fd_dir_size_counts(str(tmp_path)) is False
    rows = ProcessCollector(FIXTURE, user_name=lambda uid: "u").refresh()
    assert {r.pid: r.fds for r in rows}[1] == 8


def test_fd_count_matches_listing_on_this_machine():
    collector = ProcessCollector()
    s = collector.sample(os.getpid())
    assert s is not None
    assert s.fds is not None
    assert abs(s.fds - len(os.listdir("/proc/self/fd"))) <= 1


def test_sockstat():
    stats = parse_sockstat("sockets: used 93\nTCP: inuse 3 orphan 0 tw 993 alloc 4 mem 291\n")
    assert stats["TCP"]["tw"] == 993
    assert stats["sockets"] == {"used": 93}


def test_virtual_interfaces_by_sysfs_or_by_name(tmp_path):
    proc = tmp_path / "proc"
    proc.mkdir()
    assert is_virtual_interface("lo", proc)
    assert is_virtual_interface("veth12ab", proc)
    assert not is_virtual_interface("eth0", proc)
    net = tmp_path / "sys" / "class" / "net"
    (net / "enp1s0" / "device").mkdir(parents=True)
    (net / "br0").mkdir()
    assert not is_virtual_interface("enp1s0", proc)
    assert is_virtual_interface("br0", proc)


def test_user_names_are_injectable_and_cached():
    calls = []

    def name(uid: int) -> str:
        calls.append(uid)
        return f"user{uid}"

    rows = ProcessCollector(FIXTURE, user_name=name).refresh()
    assert {r.user for r in rows} == {f"user{os.stat(FIXTURE).st_uid}"}
    assert len(calls) == 1

"""Exact parsing of the per-process /proc files and the socket tables behind `perflab proc`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from perflab.collect._fdsockets import (
    SocketEntry,
    inet_entry,
    lsof_endpoint,
    parse_netlink_table,
    parse_unix_table,
    read_socket_tables,
)
from perflab.collect._pidfiles import (
    Limit,
    SchedStat,
    fd_access_mode,
    fd_flag_names,
    parse_cgroup,
    parse_fdinfo,
    parse_limits,
    parse_schedstat,
    parse_smaps,
    parse_smaps_rollup,
    parse_status,
    status_ids,
    status_kb,
)
from perflab.collect.sockets import parse_hex_address, parse_proc_net

FIXTURE = Path(__file__).parent.parent / "fixtures" / "proc_one"
PROC = FIXTURE / "4242"
KB = 1024


def read(rel: str) -> str:
    return (PROC / rel).read_text()


def test_limits_rows_keep_spaces_in_names_and_read_unlimited_as_none():
    limits = parse_limits(read("limits"))
    assert limits[0] == Limit("Max cpu time", None, None, "seconds")
    assert Limit("Max stack size", 8388608, None, "bytes") in limits
    assert Limit("Max open files", 1024, 524288, "files") in limits
    assert Limit("Max processes", 63432, 63432, "processes") in limits
    # a row with no unit column ("Max nice priority") still parses
    assert Limit("Max nice priority", 0, 0, "") in limits
    assert len(limits) == 9


def test_schedstat_is_ns_on_cpu_ns_waiting_and_timeslices():
    assert parse_schedstat("2500000000 40000000 900\n") == SchedStat(2.5, 0.04, 900)
    total = parse_schedstat("1 2 3") + parse_schedstat("1000000000 0 1")
    assert total.timeslices == 4
    assert total.on_cpu_s == pytest.approx(1.000000001)


def test_smaps_gives_each_mapping_with_pmap_columns_in_bytes():
    maps = parse_smaps(read("smaps"))
    assert [m.name for m in maps] == [
        "/usr/bin/python3.11", "[heap]", "[anon]", "/usr/lib/x86_64-linux-gnu/libc.so.6",
        "/dev/shm/my data (deleted)", "[stack]",
    ]
    heap = maps[1]
    assert (heap.start, heap.end) == (0x55D0C1000000, 0x55D0C3000000)
    assert heap.mode == "rw-p"
    assert heap.size == 32768 * KB
    assert heap.rss == heap.pss == heap.dirty == 30000 * KB
    assert heap.swap == 64 * KB
    libc = maps[3]
    assert libc.offset == 0x28000
    assert libc.inode == 999
    assert (libc.rss, libc.pss, libc.dirty) == (1200 * KB, 300 * KB, 0)
    shm = maps[4]
    assert shm.mode == "rw-s"
    assert shm.dirty == 4 * KB  # Shared_Dirty counts as dirty, as pmap -x does


def test_smaps_rollup_and_summed_smaps_agree_on_the_totals():
    rollup = parse_smaps_rollup(read("smaps_rollup"))
    assert rollup["Rss"] == 43252 * KB
    assert rollup["Private_Clean"] + rollup["Private_Dirty"] == 42248 * KB
    summed = parse_smaps_rollup(read("smaps"))
    assert summed["Rss"] == rollup["Rss"]
    assert summed["Pss"] == rollup["Pss"]
    assert summed["Swap"] == rollup["Swap"]


def test_status_fields():
    status = parse_status(read("status"))
    assert status["Name"] == "app (main)"
    assert status_kb(status, "VmRSS") == 51200 * KB
    assert status_kb(status, "VmPin") is None
    assert status_ids(status, "Uid") == (1000, 1001, 1002, 1003)


def test_fdinfo_position_octal_flags_and_type_specific_lines():
    info = parse_fdinfo(read("fdinfo/8"))
    assert info.pos == 0
    assert info.flags == 0o2004002
    assert info.mnt_id == 25
    assert info.extra["eventfd-count"] == "5"
    log = parse_fdinfo(read("fdinfo/9"))
    assert log.pos == 987654
    assert fd_access_mode(log.flags) == "w"
    assert fd_flag_names(log.flags) == ["WRONLY", "APPEND"]
    assert fd_access_mode(0) == "r"
    assert fd_access_mode(os.O_RDWR) == "u"
    assert fd_flag_names(0o2004002) == ["RDWR", "NONBLOCK", "CLOEXEC"]


def test_cgroup_v2_path_and_v1_hierarchies():
    v2, v1 = parse_cgroup(read("cgroup"))
    assert v2 == "/system.slice/app.service"
    assert v1 == {"memory": "/system.slice/app.service",
                  "name=systemd": "/system.slice/app.service"}
    assert parse_cgroup("0::/\n") == ("/", {})
    assert parse_cgroup("4:memory:/x\n") == (None, {"memory": "/x"})


def test_inet_addresses_are_host_order_words_and_big_endian_ports_written_as_lsof_does():
    def endpoint(text: str) -> str:
        return lsof_endpoint(*parse_hex_address(text))

    assert endpoint("0100007F:1F90") == "127.0.0.1:8080"
    assert endpoint("00000000:0000") == "0.0.0.0:0"
    assert endpoint("00000000000000000000000001000000:1F90") == "[::1]:8080"
    # ::ffff:10.0.0.1 (an IPv4-mapped address), as the kernel prints it on x86
    assert endpoint("0000000000000000FFFF00000100000A:0050") == "[::ffff:10.0.0.1]:80"


def inet_table(rel: str, proto: str) -> dict[int, SocketEntry]:
    return {row.inode: inet_entry(row) for row in parse_proc_net(read(rel), proto)}


def test_inet_tables_name_states_and_endpoints_as_lsof_does():
    table = inet_table("net/tcp", "tcp")
    listen = table[1001]
    assert (listen.proto, listen.family) == ("TCP", "IPv4")
    assert (listen.local, listen.remote, listen.state) == ("127.0.0.1:8080", None, "LISTEN")
    assert listen.describe() == "127.0.0.1:8080 (LISTEN)"
    tcp6 = inet_table("net/tcp6", "tcp")[1002]
    assert tcp6.family == "IPv6"
    assert tcp6.describe() == "[::1]:8080->[::1]:54321 (ESTAB)"
    udp = inet_table("net/udp", "udp")[1003]
    assert (udp.proto, udp.local, udp.state) == ("UDP", "0.0.0.0:5353", "UNCONN")


def test_process_socket_lookup_skips_sockets_without_inode():
    # the TIME-WAIT entry of net/tcp has inode 0: it belongs to nobody
    assert 0 in inet_table("net/tcp", "tcp")
    assert 0 not in read_socket_tables(PROC)


def test_unix_and_netlink_tables():
    unix = parse_unix_table(read("net/unix"))
    assert unix[1004].local == "/run/app.sock"
    assert unix[1004].state == "LISTEN"
    assert unix[1004].extra == "STREAM"
    assert unix[1010].local == ""
    assert unix[1010].state == "CONNECTED"
    nl = parse_netlink_table(read("net/netlink"))[1005]
    assert (nl.proto, nl.extra, nl.local) == ("netlink", "ROUTE", "pid 4242")


def test_socket_tables_are_read_from_the_process_namespace_and_skip_missing_ones():
    tables = read_socket_tables(PROC)
    assert set(tables) == {1001, 1002, 1003, 1004, 1005, 1010}
    assert read_socket_tables(FIXTURE / "nonexistent") == {}


def test_socket_lookup_of_a_few_inodes_finds_exactly_those():
    # 1001 also appears in no other column; 0 (the TIME-WAIT line's inode) must not match
    assert set(read_socket_tables(PROC, {1001, 1004})) == {1001, 1004}
    assert read_socket_tables(PROC, {1002})[1002].describe() == "[::1]:8080->[::1]:54321 (ESTAB)"
    assert read_socket_tables(PROC, {4242}) == {}  # a number that is a pid in net/netlink
    assert read_socket_tables(PROC, {100}) == {}  # a prefix of 1001 and of 1005
    assert set(read_socket_tables(PROC, {1005})) == {1005}  # the last column, at line end
    many = set(range(2000, 2100)) | {1003}  # above the substring-search limit: full parse
    assert set(read_socket_tables(PROC, many)) == {1003}

"""The system-wide /proc parsers, read against the checked-in fake tree (exact values)."""

from pathlib import Path

import pytest

from perflab.collect._procfs import (
    SECTOR_BYTES,
    USER_HZ,
    is_physical_disk,
    parse_diskstats,
    parse_kv_lines,
    parse_loadavg,
    parse_meminfo,
    parse_net_dev,
    parse_pressure,
    parse_snmp,
    parse_sockstat,
    parse_stat,
    read_pressure,
    read_text,
)
from perflab.collect.sockets import count_tcp_states

PROC = Path(__file__).parent.parent / "fixtures" / "proc"


def test_stat_gives_cpu_seconds_per_mode_and_core_and_the_counters():
    st = parse_stat(read_text(PROC, "stat"))
    assert st.cpu_total.user == 10000 / USER_HZ
    assert st.cpu_total.nice == 200 / USER_HZ
    assert st.cpu_total.system == 3000 / USER_HZ
    assert st.cpu_total.idle == 80000 / USER_HZ
    assert st.cpu_total.iowait == 500 / USER_HZ
    assert st.cpu_total.softirq == 300 / USER_HZ
    assert st.cpu_total.total == pytest.approx(94000 / USER_HZ)
    assert sorted(st.cpus) == ["0", "1"]
    assert st.cpus["1"].idle == 41000 / USER_HZ
    assert (st.context_switches, st.forks, st.procs_running, st.procs_blocked) == (
        987654, 54321, 3, 1)
    assert st.boot_time == 1795000000
    assert st.interrupts == 123456


def test_meminfo_converts_kb_to_bytes_and_keeps_hugepage_counts():
    mem = parse_meminfo(read_text(PROC, "meminfo"))
    assert mem["MemTotal"] == 8000000 * 1024
    assert mem["MemAvailable"] == 5000000 * 1024
    assert mem["Dirty"] == 1234 * 1024
    assert mem["SwapFree"] == 1500000 * 1024
    assert mem["HugePages_Total"] == 0
    assert mem["Hugepagesize"] == 2048 * 1024


def test_vmstat_lines():
    vm = parse_kv_lines(read_text(PROC, "vmstat"))
    assert vm == {"nr_free_pages": 500000, "pgpgin": 1000000, "pgpgout": 2000000,
                  "pswpin": 100, "pswpout": 200, "pgfault": 5000000, "pgmajfault": 300}


def test_loadavg():
    la = parse_loadavg(read_text(PROC, "loadavg"))
    assert (la.load1, la.load5, la.load15, la.runnable, la.threads) == (1.5, 0.75, 0.25, 3, 250)


def test_pressure_averages_in_percent_and_total_in_seconds():
    psi = read_pressure(PROC)
    assert sorted(psi) == ["cpu", "io", "memory"]
    assert psi["cpu"]["some"].avg10 == 2.5
    assert psi["cpu"]["some"].total_s == 4.0
    assert psi["io"]["full"].avg60 == 2.0
    assert psi["io"]["full"].total_s == 7.0
    assert psi["memory"]["full"].avg300 == 0.0


def test_pressure_of_a_kernel_without_psi_is_empty(tmp_path):
    assert read_pressure(tmp_path) == {}
    assert parse_pressure("") == {}


def test_diskstats_converts_sectors_and_milliseconds():
    disks = parse_diskstats(read_text(PROC, "diskstats"))
    assert sorted(disks) == ["loop0", "vda", "vda1", "zram0"]
    vda = disks["vda"]
    assert (vda.reads, vda.reads_merged, vda.writes, vda.writes_merged) == (1000, 50, 3000, 400)
    assert vda.read_bytes == 80000 * SECTOR_BYTES
    assert vda.written_bytes == 240000 * SECTOR_BYTES
    assert (vda.read_time_s, vda.write_time_s) == (2.0, 9.0)
    assert vda.in_progress == 2
    assert (vda.io_time_s, vda.weighted_io_time_s) == (5.0, 11.0)
    assert (vda.flushes, vda.flush_time_s) == (100, 0.05)


@pytest.mark.parametrize(("name", "physical"), [
    ("vda", True), ("vda1", False), ("sda", True), ("sdb3", False), ("loop0", False),
    ("zram0", False), ("ram1", False), ("nvme0n1", True), ("nvme0n1p2", False),
    ("mmcblk0", True), ("mmcblk0p1", False),
])
def test_physical_disks_are_whole_devices_without_a_sys_tree(name, physical):
    assert is_physical_disk(name, PROC) is physical


def test_physical_disks_follow_sys_block_when_it_exists(tmp_path):
    (tmp_path / "sys" / "block" / "md0").mkdir(parents=True)
    proc = tmp_path / "proc"
    assert is_physical_disk("md0", proc) is True
    assert is_physical_disk("sda", proc) is False


def test_net_dev_per_interface():
    nets = parse_net_dev(read_text(PROC, "net/dev"))
    assert sorted(nets) == ["eth0", "lo"]
    eth = nets["eth0"]
    assert (eth.rx_bytes, eth.rx_packets, eth.rx_errs, eth.rx_drop) == (5000000, 8000, 2, 3)
    assert (eth.tx_bytes, eth.tx_packets, eth.tx_errs, eth.tx_drop) == (2000000, 6000, 1, 4)


def test_snmp_and_netstat_tables_by_protocol():
    snmp = parse_snmp(read_text(PROC, "net/snmp"))
    assert snmp["Tcp"]["RetransSegs"] == 120
    assert snmp["Tcp"]["OutRsts"] == 60
    assert snmp["Tcp"]["MaxConn"] == -1
    assert snmp["Udp"]["InDatagrams"] == 10
    ext = parse_snmp(read_text(PROC, "net/netstat"))
    assert ext["TcpExt"] == {"SyncookiesSent": 0, "ListenOverflows": 7, "ListenDrops": 9,
                             "TCPTimeouts": 11}


def test_tcp_states_are_counted_over_ipv4_and_ipv6():
    assert count_tcp_states(PROC) == {"LISTEN": 2, "ESTAB": 3, "TIME-WAIT": 1}


def test_sockstat_counters_by_protocol():
    sock = parse_sockstat(read_text(PROC, "net/sockstat"))
    assert sock["TCP"] == {"inuse": 5, "orphan": 0, "tw": 1, "alloc": 6, "mem": 3}
    assert sock["sockets"] == {"used": 40}
    assert sock["FRAG"] == {"inuse": 0, "memory": 0}

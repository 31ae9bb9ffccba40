"""SystemCollector and system_rates against the fake /proc: snapshots and exact rates."""

import pytest
from proc_later import FIXTURE, advance, copy_tree

from perflab.collect import SystemCollector, system_rates
from perflab.collect._procfs import SECTOR_BYTES


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def mono(self) -> float:
        return self.t

    def wall(self) -> int:
        return 1_795_000_000_000_000_000 + int(self.t * 1e9)


def test_snapshot_reads_every_file_and_keeps_only_physical_disks():
    clock = FakeClock()
    snap = SystemCollector(FIXTURE, wall_clock=clock.wall, mono_clock=clock.mono).snapshot()
    assert snap.ts_ns == clock.wall()
    assert snap.mono_s == 100.0
    assert sorted(snap.disks) == ["vda"]
    assert sorted(snap.netdev) == ["eth0", "lo"]
    assert snap.snmp["Tcp"]["RetransSegs"] == 120
    assert snap.snmp["TcpExt"]["ListenDrops"] == 9  # netstat merged beside snmp
    assert snap.tcp_states == {"LISTEN": 2, "ESTAB": 3, "TIME-WAIT": 1}
    assert snap.sockstat["TCP"]["tw"] == 1
    assert snap.meminfo["MemTotal"] == 8000000 * 1024
    assert snap.loadavg.load1 == 1.5
    assert snap.pressure["io"]["some"].total_s == 9.0


def test_snapshot_without_optional_files_still_works(tmp_path):
    root = copy_tree(tmp_path / "proc")
    for rel in ("diskstats", "net/dev", "net/snmp", "net/netstat", "net/tcp", "net/tcp6",
                "net/sockstat", "vmstat"):
        (root / rel).unlink()
    snap = SystemCollector(root).snapshot()
    assert (snap.disks, snap.netdev, snap.snmp, snap.tcp_states, snap.sockstat,
            snap.vmstat) == ({}, {}, {}, {}, {}, {})


@pytest.fixture
def rates(tmp_path):
    root = copy_tree(tmp_path / "proc")
    clock = FakeClock()
    collector = SystemCollector(root, wall_clock=clock.wall, mono_clock=clock.mono)
    before = collector.snapshot()
    advance(root)
    clock.t += 2.0
    return system_rates(before, collector.snapshot())


def test_cpu_percent_by_mode_for_all_cpus_and_each_core(rates):
    assert rates.interval_s == 2.0
    assert rates.cpu_pct["user"] == pytest.approx(10.0)
    assert rates.cpu_pct["system"] == pytest.approx(5.0)
    assert rates.cpu_pct["idle"] == pytest.approx(80.0)
    assert rates.cpu_pct["iowait"] == pytest.approx(5.0)
    assert rates.cpu_pct["steal"] == 0.0
    assert sum(rates.cpu_pct.values()) == pytest.approx(100.0)
    assert rates.cpu_pct_per_core["0"]["user"] == pytest.approx(10.0)
    assert rates.cpu_pct_per_core["1"]["idle"] == pytest.approx(80.0)


def test_counters_per_second(rates):
    assert rates.context_switches_s == 1000.0
    assert rates.forks_s == 4.5
    assert rates.swap_in_bytes_s == 25 * 4096
    assert rates.swap_out_bytes_s == 0.0
    assert rates.major_faults_s == 5.0


def test_disk_rates_are_iostat_x_figures(rates):
    vda = rates.disks["vda"]
    assert vda.r_s == 50.0
    assert vda.w_s == 200.0
    assert vda.rkb_s == 800 * SECTOR_BYTES / 1024 / 2
    assert vda.wkb_s == 8000 * SECTOR_BYTES / 1024 / 2
    assert vda.r_await_ms == pytest.approx(3.0)
    assert vda.w_await_ms == pytest.approx(5.0)
    assert vda.aqu_sz == pytest.approx(1.5)
    assert vda.util_pct == pytest.approx(50.0)


def test_net_and_tcp_rates(rates):
    eth = rates.nets["eth0"]
    assert eth.rx_bytes_s == 100000.0
    assert eth.rx_packets_s == 100.0
    assert eth.tx_bytes_s == 0.0
    assert rates.nets["lo"].rx_bytes_s == 0.0
    assert rates.tcp_retrans_s == 5.0
    assert rates.tcp_resets_s == 2.0
    assert rates.listen_overflows_s == 1.0
    assert rates.listen_drops_s == 2.0


"""System-wide snapshot (raw counters) and the rates derived from two snapshots.

``SystemCollector(proc_root).snapshot()`` reads /proc once; ``system_rates(prev, cur)`` turns two
snapshots into the figures people read (CPU % per mode, iostat -x, bytes/s ...). Raw counters go
to the Prometheus exporter; rates go to the store, ``top`` and the dashboard.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from perflab.collect._procfs import (
    CPU_MODES,
    CpuTimes,
    DiskStats,
    LoadAvg,
    NetDev,
    Pressure,
    Stat,
    is_physical_disk,
    is_virtual_interface,
    parse_diskstats,
    parse_kv_lines,
    parse_loadavg,
    parse_meminfo,
    parse_net_dev,
    parse_sockstat,
    parse_stat,
    read_pressure,
    read_snmp,
    read_text,
)
from perflab.collect.sockets import count_tcp_states


@dataclass(frozen=True, slots=True)
class SystemSnapshot:
    ts_ns: int
    mono_s: float
    stat: Stat
    meminfo: dict[str, int]
    vmstat: dict[str, int]
    loadavg: LoadAvg
    pressure: dict[str, dict[str, Pressure]]
    disks: dict[str, DiskStats]  # whole physical devices only
    netdev: dict[str, NetDev]
    snmp: dict[str, dict[str, int]]  # /proc/net/snmp + /proc/net/netstat merged by protocol
    tcp_states: dict[str, int] = field(default_factory=dict)  # empty unless asked for
    virtual_netdevs: frozenset[str] = frozenset()  # lo, veth, bridges ...: no device behind them
    sockstat: dict[str, dict[str, int]] = field(default_factory=dict)  # /proc/net/sockstat

    @property
    def mem_available_bytes(self) -> int:
        """MemAvailable; MemFree on kernels before 3.14, which lack it."""
        return self.meminfo.get("MemAvailable", self.meminfo.get("MemFree", 0))

    @property
    def swap_used_bytes(self) -> int:
        return max(0, self.meminfo.get("SwapTotal", 0) - self.meminfo.get("SwapFree", 0))


class SystemCollector:
    """Reads the system-wide /proc files. ``proc_root`` and clocks are injectable for tests."""

    def __init__(self, proc_root: str | Path = "/proc", *,
                 wall_clock: Callable[[], int] = time.time_ns,
                 mono_clock: Callable[[], float] = time.monotonic,
                 tcp_states: bool = True) -> None:
        self.root = Path(proc_root)
        self._wall = wall_clock
        self._mono = mono_clock
        self._tcp_states = tcp_states
        self._disk_filter: dict[str, bool] = {}
        self._virtual_if: dict[str, bool] = {}  # sysfs is asked once per interface name

    def snapshot(self) -> SystemSnapshot:
        r = self.root
        disks = {}
        for name, d in parse_diskstats(_read_optional(r, "diskstats")).items():
            keep = self._disk_filter.get(name)
            if keep is None:
                keep = self._disk_filter[name] = is_physical_disk(name, r)
            if keep:
                disks[name] = d
        netdev = parse_net_dev(_read_optional(r, "net/dev"))
        for name in netdev.keys() - self._virtual_if.keys():
            self._virtual_if[name] = is_virtual_interface(name, r)
        return SystemSnapshot(
            ts_ns=self._wall(),
            mono_s=self._mono(),
            stat=parse_stat(read_text(r, "stat")),
            meminfo=parse_meminfo(read_text(r, "meminfo")),
            vmstat=parse_kv_lines(_read_optional(r, "vmstat")),
            loadavg=parse_loadavg(read_text(r, "loadavg")),
            pressure=read_pressure(r),
            disks=disks,
            netdev=netdev,
            snmp=read_snmp(r),
            tcp_states=count_tcp_states(r) if self._tcp_states else {},
            virtual_netdevs=frozenset(n for n in netdev if self._virtual_if[n]),
            sockstat=parse_sockstat(_read_optional(r, "net/sockstat")),
        )


def _read_optional(root: Path, rel: str) -> str:
    try:
        return read_text(root, rel)
    except OSError:
        return ""


@dataclass(frozen=True, slots=True)
class DiskRates:
    """The `iostat -x` figures of one device over an interval."""

    r_s: float
    w_s: float
    rkb_s: float
    wkb_s: float
    r_await_ms: float
    w_await_ms: float
    aqu_sz: float
    util_pct: float


@dataclass(frozen=True, slots=True)
class NetRates:
    rx_bytes_s: float
    tx_bytes_s: float
    rx_packets_s: float
    tx_packets_s: float
    rx_errs_s: float
    tx_errs_s: float
    rx_drop_s: float
    tx_drop_s: float


@dataclass(frozen=True, slots=True)
class SystemRates:
    interval_s: float
    cpu_pct: dict[str, float]               # mode -> % of all CPUs (sums to 100)
    cpu_pct_per_core: dict[str, dict[str, float]]  # core -> mode -> %
    context_switches_s: float
    forks_s: float
    swap_in_bytes_s: float
    swap_out_bytes_s: float
    major_faults_s: float
    disks: dict[str, DiskRates]
    nets: dict[str, NetRates]
    tcp_retrans_s: float
    tcp_resets_s: float
    listen_overflows_s: float
    listen_drops_s: float
    tcp_active_opens_s: float
    tcp_passive_opens_s: float


def cpu_percent(prev: CpuTimes, cur: CpuTimes) -> dict[str, float]:
    total = cur.total - prev.total
    if total <= 0:
        return dict.fromkeys(CPU_MODES, 0.0)
    return {m: max(0.0, 100.0 * (getattr(cur, m) - getattr(prev, m)) / total) for m in CPU_MODES}


def disk_rates(prev: DiskStats, cur: DiskStats, dt: float) -> DiskRates:
    """iostat -x arithmetic (sysstat's rd_sec/wr_sec and await definitions)."""
    dr = cur.reads - prev.reads
    dw = cur.writes - prev.writes
    r_await = 1e3 * (cur.read_time_s - prev.read_time_s) / dr if dr > 0 else 0.0
    w_await = 1e3 * (cur.write_time_s - prev.write_time_s) / dw if dw > 0 else 0.0
    return DiskRates(
        r_s=dr / dt,
        w_s=dw / dt,
        rkb_s=(cur.read_bytes - prev.read_bytes) / 1024 / dt,
        wkb_s=(cur.written_bytes - prev.written_bytes) / 1024 / dt,
        r_await_ms=r_await,
        w_await_ms=w_await,
        aqu_sz=(cur.weighted_io_time_s - prev.weighted_io_time_s) / dt,
        util_pct=min(100.0, 100.0 * (cur.io_time_s - prev.io_time_s) / dt),
    )


def _net_rates(prev: NetDev, cur: NetDev, dt: float) -> NetRates:
    def r(a: int, b: int) -> float:
        return max(0, b - a) / dt

    return NetRates(
        r(prev.rx_bytes, cur.rx_bytes), r(prev.tx_bytes, cur.tx_bytes),
        r(prev.rx_packets, cur.rx_packets), r(prev.tx_packets, cur.tx_packets),
        r(prev.rx_errs, cur.rx_errs), r(prev.tx_errs, cur.tx_errs),
        r(prev.rx_drop, cur.rx_drop), r(prev.tx_drop, cur.tx_drop),
    )


def system_rates(prev: SystemSnapshot, cur: SystemSnapshot) -> SystemRates:
    dt = max(cur.mono_s - prev.mono_s, 1e-9)

    def counter(proto: str, key: str) -> float:
        a = prev.snmp.get(proto, {}).get(key, 0)
        b = cur.snmp.get(proto, {}).get(key, 0)
        return max(0, b - a) / dt

    def vm(key: str) -> float:
        return max(0, cur.vmstat.get(key, 0) - prev.vmstat.get(key, 0)) / dt

    page = 4096
    return SystemRates(
        interval_s=dt,
        cpu_pct=cpu_percent(prev.stat.cpu_total, cur.stat.cpu_total),
        cpu_pct_per_core={
            core: cpu_percent(prev.stat.cpus[core], t)
            for core, t in cur.stat.cpus.items() if core in prev.stat.cpus
        },
        context_switches_s=max(0, cur.stat.context_switches - prev.stat.context_switches) / dt,
        forks_s=max(0, cur.stat.forks - prev.stat.forks) / dt,
        swap_in_bytes_s=vm("pswpin") * page,
        swap_out_bytes_s=vm("pswpout") * page,
        major_faults_s=vm("pgmajfault"),
        disks={n: disk_rates(prev.disks[n], d, dt) for n, d in cur.disks.items()
               if n in prev.disks},
        nets={n: _net_rates(prev.netdev[n], d, dt) for n, d in cur.netdev.items()
              if n in prev.netdev},
        tcp_retrans_s=counter("Tcp", "RetransSegs"),
        tcp_resets_s=counter("Tcp", "OutRsts"),
        listen_overflows_s=counter("TcpExt", "ListenOverflows"),
        listen_drops_s=counter("TcpExt", "ListenDrops"),
        tcp_active_opens_s=counter("Tcp", "ActiveOpens"),
        tcp_passive_opens_s=counter("Tcp", "PassiveOpens"),
    )

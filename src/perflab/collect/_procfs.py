"""Parsers of the system-wide files under /proc. Each takes the proc root, so tests can point
it at a checked-in fake tree (tests/fixtures/proc). Pure functions: text in, numbers out.

Units are converted here, once: CPU times to seconds (USER_HZ), sizes to bytes, sectors to bytes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

USER_HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
SECTOR_BYTES = 512  # /proc/diskstats counts 512-byte sectors whatever the device's block size

CPU_MODES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


def read_text(root: Path, rel: str) -> str:
    with open(root / rel, encoding="ascii", errors="replace") as fh:  # noqa: PTH123  # hot path
        return fh.read()


@dataclass(frozen=True, slots=True)
class CpuTimes:
    """Seconds spent per mode since boot, as node_cpu_seconds_total counts them.

    guest/guest_nice are already included in user/nice by the kernel, so they are left out.
    """

    user: float
    nice: float
    system: float
    idle: float
    iowait: float
    irq: float
    softirq: float
    steal: float

    @property
    def total(self) -> float:
        return (self.user + self.nice + self.system + self.idle + self.iowait + self.irq
                + self.softirq + self.steal)


@dataclass(frozen=True, slots=True)
class Stat:
    cpu_total: CpuTimes
    cpus: dict[str, CpuTimes]  # "0" -> times
    context_switches: int
    forks: int
    procs_running: int
    procs_blocked: int
    boot_time: int
    interrupts: int


def parse_stat(text: str) -> Stat:
    cpus: dict[str, CpuTimes] = {}
    total = CpuTimes(0, 0, 0, 0, 0, 0, 0, 0)
    ctxt = forks = running = blocked = btime = intr = 0
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        key = parts[0]
        if key.startswith("cpu"):
            vals = [int(v) / USER_HZ for v in parts[1:9]]
            vals += [0.0] * (8 - len(vals))
            times = CpuTimes(*vals)
            if key == "cpu":
                total = times
            else:
                cpus[key[3:]] = times
        elif key == "ctxt":
            ctxt = int(parts[1])
        elif key == "processes":
            forks = int(parts[1])
        elif key == "procs_running":
            running = int(parts[1])
        elif key == "procs_blocked":
            blocked = int(parts[1])
        elif key == "btime":
            btime = int(parts[1])
        elif key == "intr":
            intr = int(parts[1])
    return Stat(total, cpus, ctxt, forks, running, blocked, btime, intr)


def parse_meminfo(text: str) -> dict[str, int]:
    """Field -> bytes (values given in kB are converted; HugePages_* counts kept as counts)."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        fields = rest.split()
        if not fields:
            continue
        value = int(fields[0])
        if len(fields) > 1 and fields[1] == "kB":
            value *= 1024
        out[name.strip()] = value
    return out


def parse_kv_lines(text: str) -> dict[str, int]:
    """``name value`` lines, as /proc/vmstat has them."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            out[parts[0]] = int(parts[1])
    return out


@dataclass(frozen=True, slots=True)
class LoadAvg:
    load1: float
    load5: float
    load15: float
    runnable: int
    threads: int


def parse_loadavg(text: str) -> LoadAvg:
    a, b, c, rt, _last = text.split()
    runnable, threads = rt.split("/")
    return LoadAvg(float(a), float(b), float(c), int(runnable), int(threads))


@dataclass(frozen=True, slots=True)
class Pressure:
    """One line of /proc/pressure/*: averages in percent, total stall time in seconds."""

    avg10: float
    avg60: float
    avg300: float
    total_s: float


def parse_pressure(text: str) -> dict[str, Pressure]:
    """{"some": Pressure, "full": Pressure}; the cpu file's "full" line may be absent or zero."""
    out: dict[str, Pressure] = {}
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        kv = dict(p.split("=", 1) for p in parts[1:])
        out[parts[0]] = Pressure(float(kv["avg10"]), float(kv["avg60"]), float(kv["avg300"]),
                                 int(kv["total"]) / 1e6)
    return out


def read_pressure(root: Path) -> dict[str, dict[str, Pressure]]:
    """PSI per resource ("cpu", "memory", "io"); empty when the kernel has no PSI."""
    out: dict[str, dict[str, Pressure]] = {}
    for resource in ("cpu", "memory", "io"):
        try:
            out[resource] = parse_pressure(read_text(root, f"pressure/{resource}"))
        except (FileNotFoundError, NotADirectoryError, OSError):
            continue
    return out


@dataclass(frozen=True, slots=True)
class DiskStats:
    """Counters of one block device, from /proc/diskstats (Documentation/admin-guide/iostats)."""

    reads: int
    reads_merged: int
    read_bytes: int
    read_time_s: float
    writes: int
    writes_merged: int
    written_bytes: int
    write_time_s: float
    in_progress: int
    io_time_s: float
    weighted_io_time_s: float
    discards: int = 0
    discard_time_s: float = 0.0
    flushes: int = 0
    flush_time_s: float = 0.0


def parse_diskstats(text: str) -> dict[str, DiskStats]:
    out: dict[str, DiskStats] = {}
    for line in text.splitlines():
        p = line.split()
        if len(p) < 14:
            continue
        f = [int(x) for x in p[3:]]
        extra = f[11:17] + [0] * (6 - len(f[11:17]))
        out[p[2]] = DiskStats(
            reads=f[0], reads_merged=f[1], read_bytes=f[2] * SECTOR_BYTES, read_time_s=f[3] / 1e3,
            writes=f[4], writes_merged=f[5], written_bytes=f[6] * SECTOR_BYTES,
            write_time_s=f[7] / 1e3, in_progress=f[8], io_time_s=f[9] / 1e3,
            weighted_io_time_s=f[10] / 1e3, discards=extra[0], discard_time_s=extra[3] / 1e3,
            flushes=extra[4], flush_time_s=extra[5] / 1e3,
        )
    return out


def is_physical_disk(name: str, root: Path) -> bool:
    """Whole devices iostat shows by default: not partitions, not loop/ram devices.

    ``root`` is the proc root; /sys is looked up beside it (``root/../sys``).
    """
    if name.startswith(("loop", "ram", "zram")):
        return False
    sys_block = root.parent / "sys" / "block"
    if sys_block.is_dir():
        return (sys_block / name).exists()
    return not name[-1].isdigit() or (name.startswith(("nvme", "mmcblk")) and "p" not in name[4:])


_VIRTUAL_IF_PREFIXES = ("lo", "veth", "docker", "br-", "virbr", "tun", "tap", "ifb", "dummy",
                        "cni", "flannel", "cali", "vxlan", "wg", "kube", "bond", "team")


def is_virtual_interface(name: str, root: Path) -> bool:
    """Interfaces with no device behind them (lo, veth, bridges, tunnels), as sysfs tells.

    ``root`` is the proc root; /sys is looked up beside it. Without a /sys there, the usual
    virtual-driver name prefixes decide.
    """
    sys_net = root.parent / "sys" / "class" / "net"
    if sys_net.is_dir():
        return not (sys_net / name / "device").exists()
    return name.startswith(_VIRTUAL_IF_PREFIXES)


@dataclass(frozen=True, slots=True)
class NetDev:
    rx_bytes: int
    rx_packets: int
    rx_errs: int
    rx_drop: int
    tx_bytes: int
    tx_packets: int
    tx_errs: int
    tx_drop: int


def parse_net_dev(text: str) -> dict[str, NetDev]:
    out: dict[str, NetDev] = {}
    for line in text.splitlines()[2:]:
        name, sep, rest = line.partition(":")
        if not sep:
            continue
        f = [int(x) for x in rest.split()]
        out[name.strip()] = NetDev(f[0], f[1], f[2], f[3], f[8], f[9], f[10], f[11])
    return out


def parse_snmp(text: str) -> dict[str, dict[str, int]]:
    """/proc/net/snmp and /proc/net/netstat: header line + value line per protocol."""
    out: dict[str, dict[str, int]] = {}
    lines = text.splitlines()
    for head, vals in zip(lines[::2], lines[1::2], strict=False):
        hp, vp = head.split(), vals.split()
        if not hp or hp[0] != vp[0]:
            continue
        out[hp[0].rstrip(":")] = {k: int(v) for k, v in zip(hp[1:], vp[1:], strict=False)}
    return out


def read_snmp(root: Path) -> dict[str, dict[str, int]]:
    """The protocol counters of ``root``'s network namespace: net/snmp and net/netstat merged
    by protocol. ``root`` is ``/proc`` (the reader's namespace) or ``/proc/PID`` (that
    process's); a file that cannot be read counts as empty."""
    out: dict[str, dict[str, int]] = {}
    for rel in ("net/snmp", "net/netstat"):
        try:
            out.update(parse_snmp(read_text(root, rel)))
        except OSError:
            continue
    return out


def parse_sockstat(text: str) -> dict[str, dict[str, int]]:
    """/proc/net/sockstat: ``TCP: inuse 3 orphan 0 tw 993 alloc 4 mem 291`` -> {"TCP": {...}}.

    O(1) to read whatever the number of sockets, unlike walking /proc/net/tcp; ``tw`` counts
    TIME-WAIT sockets of IPv4 and IPv6 together (what ``ss -s`` prints as timewait).
    """
    out: dict[str, dict[str, int]] = {}
    for line in text.splitlines():
        proto, _, rest = line.partition(":")
        words = rest.split()
        out[proto] = {k: int(v) for k, v in zip(words[::2], words[1::2], strict=False)
                      if v.lstrip("-").isdigit()}
    return out

"""The pure model of ``perflab top``: one snapshot, its rates and the process rows -> view data.

Nothing here reads files, clocks or the terminal, so a fixed fake /proc gives a fixed view.
The renderer (``_render``) turns a ``TopView`` into text; ``_json`` turns it into JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from perflab.collect import DiskRates, ProcessRow, SystemRates, SystemSnapshot

SortKey = Literal["cpu", "mem", "io"]
SORT_KEYS: tuple[SortKey, ...] = ("cpu", "mem", "io")


@dataclass(frozen=True, slots=True)
class ViewOptions:
    """What the user chose: sort order, filter text (name, command or PID) and tree mode."""

    sort: SortKey = "cpu"
    filter: str = ""
    tree: bool = False


@dataclass(frozen=True, slots=True)
class CpuLine:
    """Percent of time per mode over the interval (the screen shows user + nice as usr)."""

    name: str  # "all" or the core number
    user: float
    nice: float
    system: float
    iowait: float
    irq: float
    softirq: float
    steal: float
    idle: float

    @property
    def busy(self) -> float:
        return max(0.0, 100.0 - self.idle)


@dataclass(frozen=True, slots=True)
class MemView:
    total: int
    available: int
    cache: int      # free(1)'s buff/cache: Buffers + Cached + SReclaimable
    dirty: int
    swap_total: int
    swap_used: int
    swap_in_s: float   # bytes/s
    swap_out_s: float  # bytes/s


@dataclass(frozen=True, slots=True)
class PsiView:
    """Stall percentages of one resource (10 s, 60 s, 300 s averages); ``full`` absent for cpu
    on kernels before 5.13."""

    resource: str
    some10: float
    some60: float
    some300: float
    full10: float | None
    full60: float | None
    full300: float | None


@dataclass(frozen=True, slots=True)
class DiskLine:
    """The iostat -x figures of one whole device."""

    device: str
    rates: DiskRates


@dataclass(frozen=True, slots=True)
class NetLine:
    device: str
    virtual: bool
    rx_bytes_s: float
    tx_bytes_s: float
    rx_packets_s: float
    tx_packets_s: float
    errs_s: float   # rx + tx
    drops_s: float  # rx + tx


@dataclass(frozen=True, slots=True)
class TcpView:
    established: int
    time_wait: int
    retrans_s: float
    listen_overflows_s: float


@dataclass(frozen=True, slots=True)
class ProcLine:
    """One row of the process table; ``tree`` is the pstree-style prefix drawn before the
    command in tree mode ("" otherwise)."""

    row: ProcessRow
    tree: str = ""
    depth: int = 0

    @property
    def io_bytes_s(self) -> float:
        return (self.row.read_bytes_s or 0.0) + (self.row.write_bytes_s or 0.0)


@dataclass(frozen=True, slots=True)
class TopView:
    ts_ns: int
    interval_s: float
    hostname: str
    uptime_s: float
    options: ViewOptions
    cpu_all: CpuLine
    cpu_cores: tuple[CpuLine, ...]
    load: tuple[float, float, float]
    procs_running: int
    procs_blocked: int
    threads: int
    context_switches_s: float
    mem: MemView
    psi: tuple[PsiView, ...]  # empty when the kernel has no PSI: the renderer says "PSI n/a"
    disks: tuple[DiskLine, ...]
    nets: tuple[NetLine, ...]  # idle virtual interfaces left out
    tcp: TcpView
    processes: tuple[ProcLine, ...]
    process_count: int  # before filtering


def build_view(snapshot: SystemSnapshot, rates: SystemRates, rows: list[ProcessRow],
               options: ViewOptions, *, hostname: str = "") -> TopView:
    """Everything ``top`` shows, computed from one sample (``snapshot`` is the later one)."""
    cores = sorted(rates.cpu_pct_per_core.items(), key=lambda kv: _core_order(kv[0]))
    la = snapshot.loadavg
    return TopView(
        ts_ns=snapshot.ts_ns,
        interval_s=rates.interval_s,
        hostname=hostname,
        uptime_s=max(0.0, snapshot.ts_ns / 1e9 - snapshot.stat.boot_time),
        options=options,
        cpu_all=_cpu_line("all", rates.cpu_pct),
        cpu_cores=tuple(_cpu_line(name, pct) for name, pct in cores),
        load=(la.load1, la.load5, la.load15),
        procs_running=snapshot.stat.procs_running,
        procs_blocked=snapshot.stat.procs_blocked,
        threads=la.threads,
        context_switches_s=rates.context_switches_s,
        mem=_mem_view(snapshot, rates),
        psi=_psi_views(snapshot),
        disks=tuple(
            DiskLine(name, d) for name, d in sorted(rates.disks.items())
        ),
        nets=_net_lines(snapshot, rates),
        tcp=TcpView(
            # the counters `ss -s` prints, O(1) to read (walking /proc/net/tcp costs ~10 ms
            # per thousand sockets); CurrEstab counts ESTABLISHED and CLOSE-WAIT, as RFC 1213
            established=snapshot.snmp.get("Tcp", {}).get("CurrEstab", 0),
            time_wait=snapshot.sockstat.get("TCP", {}).get("tw", 0),
            retrans_s=rates.tcp_retrans_s,
            listen_overflows_s=rates.listen_overflows_s,
        ),
        processes=process_lines(rows, options),
        process_count=len(rows),
    )


def _core_order(name: str) -> tuple[int, str]:
    return (int(name), "") if name.isdigit() else (1 << 30, name)


def _cpu_line(name: str, pct: dict[str, float]) -> CpuLine:
    return CpuLine(
        name=name,
        user=pct.get("user", 0.0),
        nice=pct.get("nice", 0.0),
        system=pct.get("system", 0.0),
        iowait=pct.get("iowait", 0.0),
        irq=pct.get("irq", 0.0),
        softirq=pct.get("softirq", 0.0),
        steal=pct.get("steal", 0.0),
        idle=pct.get("idle", 0.0),
    )


def _mem_view(snapshot: SystemSnapshot, rates: SystemRates) -> MemView:
    mi = snapshot.meminfo
    return MemView(
        total=mi.get("MemTotal", 0),
        available=snapshot.mem_available_bytes,
        cache=mi.get("Buffers", 0) + mi.get("Cached", 0) + mi.get("SReclaimable", 0),
        dirty=mi.get("Dirty", 0),
        swap_total=mi.get("SwapTotal", 0),
        swap_used=snapshot.swap_used_bytes,
        swap_in_s=rates.swap_in_bytes_s,
        swap_out_s=rates.swap_out_bytes_s,
    )


def _psi_views(snapshot: SystemSnapshot) -> tuple[PsiView, ...]:
    out = []
    for resource in ("cpu", "memory", "io"):
        lines = snapshot.pressure.get(resource)
        if not lines or "some" not in lines:
            continue
        some, full = lines["some"], lines.get("full")
        out.append(PsiView(
            resource, some.avg10, some.avg60, some.avg300,
            full.avg10 if full else None, full.avg60 if full else None,
            full.avg300 if full else None,
        ))
    return tuple(out)


def _net_lines(snapshot: SystemSnapshot, rates: SystemRates) -> tuple[NetLine, ...]:
    out = []
    for name, n in sorted(rates.nets.items()):
        virtual = name in snapshot.virtual_netdevs
        active = (n.rx_bytes_s + n.tx_bytes_s + n.rx_packets_s + n.tx_packets_s) > 0
        if virtual and not active:
            continue  # an idle lo/veth/bridge says nothing; it appears as soon as it moves data
        out.append(NetLine(
            name, virtual, n.rx_bytes_s, n.tx_bytes_s, n.rx_packets_s, n.tx_packets_s,
            n.rx_errs_s + n.tx_errs_s, n.rx_drop_s + n.tx_drop_s,
        ))
    return tuple(out)


# ---- the process table: filter, sort, tree ----

def matches(row: ProcessRow, needle: str) -> bool:
    """The filter: a PID (exact) or text found in the name or the command line (any case)."""
    if not needle:
        return True
    if needle.isdigit() and int(needle) == row.pid:
        return True
    low = needle.lower()
    return low in row.name.lower() or low in row.cmdline.lower()


def _order(sort: SortKey) -> Callable[[ProcessRow], tuple[float, ...]]:
    """Descending by the chosen figure, ties broken by the other figures then by PID."""
    if sort == "mem":
        return lambda r: (-r.rss_bytes, -r.cpu_pct, r.pid)
    if sort == "io":
        return lambda r: (-((r.read_bytes_s or 0.0) + (r.write_bytes_s or 0.0)), -r.cpu_pct,
                          -r.rss_bytes, r.pid)
    return lambda r: (-r.cpu_pct, -r.rss_bytes, r.pid)


def process_lines(rows: list[ProcessRow], options: ViewOptions) -> tuple[ProcLine, ...]:
    """The filtered, sorted table; in tree mode, children under their parent as pstree does,
    siblings in the chosen order. A process whose parent is filtered out starts its own tree."""
    shown = [r for r in rows if matches(r, options.filter)]
    shown.sort(key=_order(options.sort))
    if not options.tree:
        return tuple(ProcLine(r) for r in shown)
    pids = {r.pid for r in shown}
    children: dict[int, list[ProcessRow]] = {}
    roots = []
    for r in shown:  # already sorted, so every children list is too
        if r.ppid in pids and r.ppid != r.pid:
            children.setdefault(r.ppid, []).append(r)
        else:
            roots.append(r)
    out: list[ProcLine] = []
    seen: set[int] = set()
    # iterative depth-first walk: process trees can be deeper than Python's recursion limit
    stack: list[tuple[ProcessRow, str, str, int]] = [
        (r, "", "", 0) for r in reversed(roots)
    ]
    while stack:
        row, branch, indent, depth = stack.pop()
        if row.pid in seen:
            continue
        seen.add(row.pid)
        out.append(ProcLine(row, branch, depth))
        kids = children.get(row.pid, [])
        for i in range(len(kids) - 1, -1, -1):
            last = i == len(kids) - 1
            stack.append((kids[i], indent + ("└─" if last else "├─"),
                          indent + ("  " if last else "│ "), depth + 1))
    if len(seen) < len(shown):  # a ppid cycle (pid reuse mid-read) has no root: list it flat
        out.extend(ProcLine(r) for r in shown if r.pid not in seen)
    return tuple(out)

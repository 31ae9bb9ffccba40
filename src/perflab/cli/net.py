"""``perflab net``: sockets like ``ss -tanp``, TCP counters as rates like ``netstat -s``/``sar``.

One refresh reads the socket table (collect.sockets) and two snapshots of /proc/net/snmp and
/proc/net/netstat ``--interval`` apart (collect.SystemCollector), so every kernel counter is
shown both as its total since boot and as a rate over the interval just measured.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import click
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from perflab.cli._common import POSITIVE_DURATION, emit_doc, json_option
from perflab.collect import NetCounter, NetDoc, NetFilter, NetState, read_snmp
from perflab.collect.sockets import (
    CONNECTED_STATES,
    LISTEN_STATES,
    STATES,
    UNKNOWN_STATE,
    SocketCollector,
    SocketRow,
    foreign_namespace_pid,
    net_state,
)
from perflab.errors import InvalidValue, NoSuchProcess
from perflab.units import format_clock, printable

SCHEMA: Literal["perflab.net/2"] = "perflab.net/2"

# (key, file section, field, what it counts, shown with -u only)
COUNTERS: tuple[tuple[str, str, str, str, bool], ...] = (
    ("active_opens", "Tcp", "ActiveOpens", "connections opened (connect)", False),
    ("passive_opens", "Tcp", "PassiveOpens", "connections accepted", False),
    ("attempt_fails", "Tcp", "AttemptFails", "failed connection attempts", False),
    ("estab_resets", "Tcp", "EstabResets", "established connections reset", False),
    ("in_segs", "Tcp", "InSegs", "segments received", False),
    ("out_segs", "Tcp", "OutSegs", "segments sent", False),
    ("retrans_segs", "Tcp", "RetransSegs", "segments retransmitted", False),
    ("syn_retrans", "TcpExt", "TCPSynRetrans", "SYNs retransmitted", False),
    ("timeouts", "TcpExt", "TCPTimeouts", "retransmission timeouts", False),
    ("out_rsts", "Tcp", "OutRsts", "resets sent", False),
    ("in_errs", "Tcp", "InErrs", "bad segments received", False),
    ("listen_overflows", "TcpExt", "ListenOverflows", "accept queue full (SYN/ACK dropped)",
     False),
    ("listen_drops", "TcpExt", "ListenDrops", "SYNs dropped at listening sockets", False),
    ("syncookies_sent", "TcpExt", "SyncookiesSent", "SYN cookies sent (SYN queue full)", False),
    ("udp_in", "Udp", "InDatagrams", "UDP datagrams received", True),
    ("udp_out", "Udp", "OutDatagrams", "UDP datagrams sent", True),
    ("udp_no_ports", "Udp", "NoPorts", "UDP datagrams to a closed port", True),
    ("udp_rcvbuf_errors", "Udp", "RcvbufErrors", "UDP receive buffer overflows", True),
    ("udp_in_errors", "Udp", "InErrors", "UDP datagrams dropped on receipt", True),
)

# names users type for --state (ss's, in lower case, plus a few aliases) -> our state names
STATE_ALIASES: dict[str, NetState] = {s.lower(): s for s in STATES} | {
    "established": "ESTAB", "listening": "LISTEN", "syn-received": "SYN-RECV",
    "close": "UNCONN", "closed": "UNCONN", "unconnected": "UNCONN",
}


@dataclass(frozen=True, slots=True)
class CounterRate:
    key: str
    section: str
    field: str
    description: str
    total: int
    per_s: float | None

    def to_json(self) -> NetCounter:
        return {"name": self.key, "source": f"{self.section}.{self.field}",
                "description": self.description, "total": self.total,
                "per_s": None if self.per_s is None else round(self.per_s, 3)}


@dataclass(frozen=True, slots=True)
class NetView:
    """What one refresh shows."""

    ts_ns: int
    interval_s: float | None
    states: dict[str, int]        # over all TCP sockets, whatever the filter (net_state's)
    sockets: list[SocketRow]      # the filtered ones
    counters: list[CounterRate]
    netns_pid: int | None = None  # counters from this PID's network namespace (not ours)

    def to_json(self, filters: NetFilter) -> NetDoc:
        return {
            "schema": SCHEMA,
            "ts_ns": self.ts_ns,
            "interval_s": None if self.interval_s is None else round(self.interval_s, 3),
            "filter": filters, "states": self.states,
            "sockets": [s.to_json() for s in self.sockets],
            "counters": [c.to_json() for c in self.counters],
            "netns_pid": self.netns_pid,
        }


@dataclass(frozen=True, slots=True)
class CounterSnapshot:
    """The kernel's protocol counters (/proc/net/snmp and netstat) at one moment."""

    ts_ns: int
    mono_s: float
    snmp: dict[str, dict[str, int]]


def counter_rates(prev: CounterSnapshot | None, cur: CounterSnapshot, *,
                  udp: bool) -> list[CounterRate]:
    dt = None if prev is None else max(cur.mono_s - prev.mono_s, 1e-9)
    out = []
    for key, section, field, description, udp_only in COUNTERS:
        if udp_only and not udp:
            continue
        total = cur.snmp.get(section, {}).get(field)
        if total is None:
            continue  # an older kernel without this counter
        rate = None
        if prev is not None and dt is not None:
            before = prev.snmp.get(section, {}).get(field, total)
            rate = max(0, total - before) / dt
        out.append(CounterRate(key, section, field, description, total, rate))
    return out


def resolve_states(all_: bool, listening: bool, states: Iterable[str]
                   ) -> frozenset[NetState] | None:
    """The states to show; None means every state."""
    chosen = set()
    for name in states:
        state = STATE_ALIASES.get(name.lower())
        if state is None:
            raise InvalidValue(f"unknown socket state {name!r}",
                               hint="one of: " + ", ".join(s.lower() for s in STATES))
        chosen.add(state)
    if all_:
        return None
    if listening:
        chosen |= LISTEN_STATES
    return frozenset(chosen) if chosen else CONNECTED_STATES


class NetSampler:
    """Keeps the previous counter snapshot so that each refresh reports rates."""

    def __init__(self, *, udp: bool, pids: tuple[int, ...], states: frozenset[NetState] | None,
                 proc_root: str = "/proc") -> None:
        self.udp = udp
        self.pids = pids
        self.states = states
        self.sockets = SocketCollector(proc_root)
        self.prev: CounterSnapshot | None = None
        # processes in a namespace of their own (a container): their namespace's counters
        self.netns_pid = foreign_namespace_pid(Path(proc_root), pids) if pids else None
        self.counters_root = Path(proc_root) / (str(self.netns_pid) if self.netns_pid else "")

    def _snapshot(self) -> CounterSnapshot:
        return CounterSnapshot(time.time_ns(), time.monotonic(), read_snmp(self.counters_root))

    def prime(self) -> None:
        self.prev = self._snapshot()

    def refresh(self) -> NetView:
        cur = self._snapshot()
        counters = counter_rates(self.prev, cur, udp=self.udp)
        interval = None if self.prev is None else cur.mono_s - self.prev.mono_s
        self.prev = cur
        rows = self.sockets.sockets(tcp=True, udp=self.udp, pids=self.pids or None)
        states: Counter[str] = Counter(net_state(r.state) for r in rows if r.proto == "tcp")
        shown = [r for r in rows if self.states is None or r.state in self.states]
        return NetView(cur.ts_ns, interval, dict(states), shown, counters, self.netns_pid)


def render(view: NetView, *, max_rows: int | None = None, clock: bool = False) -> RenderableType:
    """The socket table and the counters; ``clock`` adds the time and interval (live view)."""
    summary = Text.assemble(
        ("TCP ", "bold"),
        "  ".join(f"{state} {view.states[state]}" for state in (*STATES, UNKNOWN_STATE)
                  if state in view.states)
        or "no sockets",
    )
    if view.netns_pid is not None:
        summary.append(f"    in the network namespace of PID {view.netns_pid}", style="dim")
    if clock and view.interval_s is not None:
        stamp = format_clock(view.ts_ns)
        summary.append(f"    {stamp}, rates over {view.interval_s:.1f}s", style="dim")
    rows = view.sockets if max_rows is None else view.sockets[:max_rows]
    table = Table(box=None, header_style="bold", pad_edge=False)
    # every column but Process keeps its full width, as ss's do; Process gives way first
    local_w = max([len("Local Address:Port")] + [len(s.local) for s in rows])
    peer_w = max([len("Peer Address:Port")] + [len(s.peer) for s in rows])
    table.add_column("Netid", no_wrap=True, min_width=5)
    table.add_column("State", no_wrap=True, min_width=12)
    table.add_column("Recv-Q", justify="right", no_wrap=True, min_width=6)
    table.add_column("Send-Q", justify="right", no_wrap=True, min_width=6)
    table.add_column("Local Address:Port", justify="right", no_wrap=True, min_width=local_w)
    table.add_column("Peer Address:Port", no_wrap=True, min_width=peer_w)
    table.add_column("Process", no_wrap=True, overflow="ellipsis")
    for s in rows:
        procs = _process_text(s)
        send_q = "-" if s.send_q is None else str(s.send_q)
        # Text: a process named "[x]" is not rich markup
        table.add_row(s.proto, net_state(s.state), str(s.recv_q), send_q, s.local, s.peer,
                      Text(procs))
    parts: list[RenderableType] = [summary, table]
    if len(rows) < len(view.sockets):
        parts.append(Text(f"... {len(view.sockets) - len(rows)} more sockets", style="dim"))
    counters = Table(box=None, header_style="bold", pad_edge=False)
    counters.add_column("Counter", no_wrap=True)
    counters.add_column("Total", justify="right")
    counters.add_column("/s", justify="right")
    counters.add_column("", style="dim")
    for c in view.counters:
        rate = "-" if c.per_s is None else f"{c.per_s:.1f}"
        style = "bold red" if c.per_s and c.key in _TROUBLE else ""
        counters.add_row(f"{c.section}.{c.field}", str(c.total), Text(rate, style=style),
                         c.description)
    parts += [Text(""), counters]
    return Group(*parts)


# counters whose rate is worth a colour when not zero: they mean lost or refused work
_TROUBLE = frozenset({"retrans_segs", "syn_retrans", "timeouts", "listen_overflows",
                      "listen_drops", "attempt_fails", "estab_resets", "in_errs",
                      "udp_rcvbuf_errors", "udp_in_errors"})


def _process_text(s: SocketRow) -> str:
    return printable(",".join(f"{o.name}/{o.pid}" for o in _unique_pids(s)))


def _unique_pids(s: SocketRow) -> list[Any]:
    seen: dict[int, Any] = {}
    for o in s.owners:
        seen.setdefault(o.pid, o)
    return list(seen.values())


@click.command()
@click.option("--watch", "-w", is_flag=True, help="Refresh in place until Ctrl-C.")
@click.option("--interval", "-i", type=POSITIVE_DURATION, default="1s", show_default=True,
              help="Interval over which counter rates are measured (and between refreshes).")
@click.option("--all", "-a", "all_", is_flag=True, help="Sockets in every state.")
@click.option("--listening", "-l", is_flag=True, help="Listening (and unconnected UDP) sockets.")
@click.option("--state", "-s", "states", multiple=True, metavar="STATE",
              help="Only sockets in this state (established, listen, time-wait ...; repeatable).")
@click.option("--udp", "-u", is_flag=True, help="UDP sockets and counters too.")
@click.option("--pid", "-p", "pids", type=int, multiple=True, metavar="PID",
              help="Only sockets owned by this process (repeatable).")
@json_option
@click.option("--proc-root", default="/proc", hidden=True, help="Read this /proc tree (tests).")
def net(*, watch: bool, interval: float, all_: bool, listening: bool, states: tuple[str, ...],
        udp: bool, pids: tuple[int, ...], as_json: bool, proc_root: str) -> int:
    """Sockets (like `ss -tanp`) and the kernel's TCP counters as rates (like `netstat -s`).

    Without a state option, connected sockets are shown, as ss does; listening sockets show
    their accept-queue fill as Recv-Q and their backlog as Send-Q.
    """
    chosen = resolve_states(all_, listening, states)
    for pid in pids:
        if pid <= 0 or not _pid_exists(proc_root, pid):
            raise NoSuchProcess(pid)
    sampler = NetSampler(udp=udp, pids=pids, states=chosen, proc_root=proc_root)
    filters: NetFilter = {"states": None if chosen is None else sorted(chosen),
                          "protocols": ["tcp", "udp"] if udp else ["tcp"], "pids": list(pids)}
    sampler.prime()
    if watch:
        return _watch(sampler, interval, as_json=as_json, filters=filters)
    time.sleep(interval)
    view = sampler.refresh()
    if as_json:
        emit_doc(view.to_json(filters))
    else:
        console = Console()
        if not console.is_terminal:  # piped: full lines, as ss writes them, not 80 columns
            console = Console(width=max(console.width, _natural_width(view)))
        console.print(render(view))
    return 0


def _natural_width(view: NetView) -> int:
    """The width at which no column of the socket table is cut."""
    local_w = max((len(s.local) for s in view.sockets), default=0)
    peer_w = max((len(s.peer) for s in view.sockets), default=0)
    proc_w = max((len(_process_text(s)) for s in view.sockets), default=0)
    return 5 + 12 + 6 + 6 + max(local_w, 18) + max(peer_w, 17) + max(proc_w, 7) + 2 * 6 + 1


def _pid_exists(proc_root: str, pid: int) -> bool:
    return (Path(proc_root) / str(pid) / "stat").exists()


def _watch(sampler: NetSampler, interval: float, *, as_json: bool,
           filters: NetFilter) -> int:
    from rich.live import Live  # noqa: PLC0415  # lazy: only the live view needs it

    sleep: Callable[[float], None] = time.sleep
    try:
        if as_json:  # one compact document per line (NDJSON), flushed at each refresh
            while True:
                sleep(interval)
                sys.stdout.write(json.dumps(sampler.refresh().to_json(filters)) + "\n")
                sys.stdout.flush()
        console = Console()
        with Live(console=console, auto_refresh=False, screen=False) as live:
            while True:
                sleep(interval)
                view = sampler.refresh()
                # leave room for the summary, headers and the counters table
                room = max(3, console.size.height - len(view.counters) - 8)
                live.update(render(view, max_rows=room, clock=True), refresh=True)
    except KeyboardInterrupt:
        return 0

"""The renderer of ``perflab top``: view data + width/height -> lines of rich ``Text``.

Every line is built to fit the width and is cropped there, so a narrow terminal never wraps.
When the height is short, panels shrink in a fixed order (per-core rows fold into one compact
line, disk and network lists keep their busiest devices, then those panels go) so that the
process table keeps at least ``MIN_PROCESS_ROWS`` rows. ``height=None`` means no limit
(``--once``): every panel and every process is printed.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from rich.console import Console, Group
from rich.text import Text

from perflab.top._model import CpuLine, DiskLine, NetLine, ProcLine, TopView
from perflab.units import (
    compact_count,
    compact_percent,
    compact_size,
    compact_uptime,
    format_clock,
    format_duration,
    printable,
)

MIN_PROCESS_ROWS = 5
WIDE = 150        # from this width the disk and network panels sit beside CPU and memory
RIGHT_WIDTH = 72  # the width the disk and network panels need
LEFT_MAX = 100    # CPU bars wider than this are no easier to read

MODE_STYLES = (  # bar colours per CPU mode, htop's order and palette
    ("user", "green"), ("nice", "green"), ("system", "red"), ("iowait", "blue"), ("irq", "yellow"),
    ("softirq", "magenta"), ("steal", "cyan"),
)
LABEL = "bold cyan"
HEADER = "reverse"

KEYS = (("c", "cpu"), ("m", "mem"), ("i", "io"), ("/", "filter"), ("t", "tree"),
        ("p", "pause"), ("?", "help"), ("q", "quit"))

HELP = (
    "perflab top: keys",
    "",
    "  c  sort processes by CPU%          m  sort by resident memory (RSS)",
    "  i  sort by disk I/O (read + write bytes/s)",
    "  /  filter: type a name, command or PID; Enter applies, Esc clears",
    "  t  tree view: children under their parent, as pstree draws them",
    "  p  pause / resume refreshing (keys keep working on the frozen sample)",
    "  q  quit (Ctrl-C too); ?  this help (any key closes it)",
    "",
    "CPU: % of time per mode (usr includes nice).  DISK: the iostat -x figures.",
    "PSI: % of time some/all tasks stalled on cpu, memory, io (10 s average).",
    "NET: idle virtual interfaces (lo, veth, bridges) are hidden until they move data.",
)


@dataclass(frozen=True, slots=True)
class ScreenState:
    """What the interactive loop adds to the view: pause, the filter being typed, help."""

    paused: bool = False
    editing: str | None = None  # the filter text while the user types it
    help: bool = False


def render_lines(view: TopView, width: int, height: int | None,
                 state: ScreenState | None = None) -> list[Text]:
    """The whole screen as lines, each at most ``width`` cells, at most ``height`` lines."""
    state = state or ScreenState()
    width = max(width, 20)
    footer = [] if height is None else [_footer(view, state, width)]
    head = [_title(view, state, width)]
    system: list[Text] = []
    for level in range(7):
        system = _system(view, width, level)
        if height is None or len(head) + len(system) + 1 + MIN_PROCESS_ROWS + len(footer) <= height:
            break
    room = None if height is None else max(0, height - len(head) - len(system) - len(footer))
    body = _help(width) if state.help else _processes(view, width, room)
    lines = head + system + body
    if height is not None:
        lines = lines[: max(0, height - len(footer))] + footer
        lines = lines[:height]
    for line in lines:
        line.no_wrap = True
        line.overflow = "crop"
        line.truncate(width)
    return lines


def render(view: TopView, width: int, height: int | None,
           state: ScreenState | None = None) -> Group:
    return Group(*render_lines(view, width, height, state))


def render_text(view: TopView, width: int, height: int | None,
                state: ScreenState | None = None,
                *, color: bool = False) -> str:
    """The screen as a string: plain text, or with ANSI styles when ``color`` is set."""
    buf = io.StringIO()
    console = Console(file=buf, width=max(width, 20), height=height or 10_000,
                      color_system="256" if color else None, force_terminal=color,
                      legacy_windows=False, _environ={})
    console.print(render(view, width, height, state), crop=True, soft_wrap=False)
    return buf.getvalue()


# ---- the title and footer ----

def _title(view: TopView, state: ScreenState, width: int) -> Text:
    t = Text()
    t.append("perflab top", "bold")
    if view.hostname:
        t.append(f"  {view.hostname}")
    t.append(f"  {format_clock(view.ts_ns)}  up {compact_uptime(view.uptime_s)}"
             f"  every {_interval(view.interval_s)}")
    o = view.options
    t.append(f"  sort:{o.sort}")
    if o.filter:
        t.append(f"  filter:{o.filter}", "bold yellow")
    if o.tree:
        t.append("  tree")
    if state.paused:
        t.append("  PAUSED", "bold red")
    return _crop(t, width)


def _interval(seconds: float) -> str:
    """The measured interval without its scheduling jitter: 0.998 s reads as 1.0s."""
    return format_duration(round(seconds, 2 if seconds < 1 else 1), 2)


def _footer(view: TopView, state: ScreenState, width: int) -> Text:
    t = Text()
    if state.editing is not None:
        t.append(" filter: ", "bold")
        t.append(state.editing + "_", "bold yellow")
        t.append("   Enter apply  Esc clear")
        return _crop(t, width)
    for key, what in KEYS:
        t.append(key, HEADER)
        t.append(f" {what} ")
    t.append(f" {len(view.processes)}/{view.process_count} procs")
    return _crop(t, width)


def _help(width: int) -> list[Text]:
    return [_crop(Text(line, LABEL if i == 0 else ""), width) for i, line in enumerate(HELP)]


# ---- system panels ----

def _system(view: TopView, width: int, level: int) -> list[Text]:
    """The panels above the process table at shrink ``level`` (0 = everything): 1 folds the
    per-core rows into "core:busy%" cells, 2 keeps one line of the busiest cores, 3 and 4 keep
    the two, then one, busiest disks and interfaces, 5 drops those panels, 6 PSI and TCP."""
    wide = width >= WIDE
    left_w = min(width - RIGHT_WIDTH - 3, LEFT_MAX) if wide else width
    left = _cpu(view, left_w, level)
    left += [_load(view, left_w), *_mem(view, left_w)]
    if level < 6:
        left += [_psi(view, left_w), _tcp(view, left_w)]
    keep = None if level < 3 else (2 if level == 3 else 1)
    right: list[Text] = []
    if level < 5:
        right = _disks(view.disks, keep) + _nets(view.nets, keep)
    if not wide:
        return left + right
    out = []
    for i in range(max(len(left), len(right))):
        a = left[i] if i < len(left) else Text()
        b = right[i] if i < len(right) else Text()
        line = _crop(a, left_w)
        line.pad_right(left_w - line.cell_len)
        line.append(" │ ", "dim")
        line.append_text(b)
        out.append(line)
    return out


def _cpu(view: TopView, width: int, level: int) -> list[Text]:
    head = Text("CPU    usr   sys   iow   irq  sirq   stl  idle", LABEL)
    lines = [head, _cpu_row(view.cpu_all, width)]
    cores = view.cpu_cores
    if not cores:
        return lines
    if level == 0:
        return lines + [_cpu_row(c, width) for c in cores]
    # cells "3:45" = core 3 is 45% busy; on one line only, the busiest cores come first
    one_line = level >= 2
    if one_line:
        cores = tuple(sorted(cores, key=lambda c: -c.busy))
    cell = max(len(c.name) for c in cores) + 5
    label = "busiest " if one_line and len(cores) * cell + 5 > width else "busy "
    t = Text(label, LABEL)
    for c in cores:
        if t.cell_len + cell > width:
            if one_line:
                break
            lines.append(t)
            t = Text(" " * len(label))
        t.append(f"{c.name}:", "dim")
        t.append(f"{c.busy:<{cell - len(c.name) - 1}.0f}", _busy_style(c.busy))
    return [*lines, t]


def _busy_style(busy: float) -> str:
    return "bold red" if busy >= 90 else ("yellow" if busy >= 50 else "")


def _cpu_row(c: CpuLine, width: int) -> Text:
    t = Text(f"{c.name:<4}", "bold" if c.name == "all" else "")
    for v in (c.user + c.nice, c.system, c.iowait, c.irq, c.softirq, c.steal, c.idle):
        t.append(f"{v:6.1f}")
    bar_w = min(width - t.cell_len - 3, 60)
    if bar_w >= 5:
        t.append(" [")
        used = 0
        for mode, style in MODE_STYLES:
            n = round(getattr(c, mode) * bar_w / 100)
            n = min(n, bar_w - used)
            t.append("|" * n, style)
            used += n
        t.append(" " * (bar_w - used))
        t.append("]")
    return t


def _load(view: TopView, width: int) -> Text:
    t = Text("Load ", LABEL)
    t.append("{:.2f} {:.2f} {:.2f}".format(*view.load))
    t.append("  run ", LABEL)
    t.append(str(view.procs_running))
    t.append(" blocked ", LABEL)
    t.append(str(view.procs_blocked), "bold red" if view.procs_blocked else "")
    t.append("  threads ", LABEL)
    t.append(str(view.threads))
    t.append("  ctxsw ", LABEL)
    t.append(f"{compact_count(view.context_switches_s)}/s")
    return _crop(t, width)


def _mem(view: TopView, width: int) -> list[Text]:
    """Memory and swap on one line, or two when the width cannot hold both."""
    m = view.mem
    mem = Text("Mem ", LABEL)
    mem.append(f"{compact_size(m.total)} avail {compact_size(m.available)}"
               f" cache {compact_size(m.cache)} dirty {compact_size(m.dirty)}")
    swap = Text("Swap ", LABEL)
    swap.append(f"{compact_size(m.swap_used)}/{compact_size(m.swap_total)}"
                f" in {compact_size(m.swap_in_s)}/s out {compact_size(m.swap_out_s)}/s",
                "bold red" if m.swap_in_s or m.swap_out_s else "")
    if mem.cell_len + 2 + swap.cell_len <= width:
        return [Text.assemble(mem, "  ", swap)]
    return [_crop(mem, width), _crop(swap, width)]


def _psi(view: TopView, width: int) -> Text:
    t = Text("PSI ", LABEL)
    if not view.psi:
        t.append("n/a (no /proc/pressure on this kernel)", "dim")
        return t
    t.append("some/full avg10 ", "dim")
    for p in view.psi:
        t.append(f" {'mem' if p.resource == 'memory' else p.resource} ", LABEL)
        t.append(f"{p.some10:.2f}", "yellow" if p.some10 >= 10 else "")
        t.append("/")
        if p.full10 is None:
            t.append("-")
        else:
            t.append(f"{p.full10:.2f}", "bold red" if p.full10 >= 10 else "")
    return _crop(t, width)


def _tcp(view: TopView, width: int) -> Text:
    c = view.tcp
    t = Text("TCP ", LABEL)
    t.append(f"estab {c.established}  time-wait {c.time_wait}  retrans ")
    t.append(f"{compact_count(c.retrans_s)}/s", "bold red" if c.retrans_s else "")
    t.append("  listen-overflows ")
    t.append(f"{compact_count(c.listen_overflows_s)}/s", "bold red" if c.listen_overflows_s else "")
    return _crop(t, width)


def _disks(disks: tuple[DiskLine, ...], keep: int | None) -> list[Text]:
    if keep is not None:
        disks = tuple(sorted(disks, key=lambda d: -d.rates.util_pct)[:keep])
    out = [Text("DISK        r/s    w/s  rkB/s  wkB/s r_await w_await aqu-sz %util", LABEL)]
    for line in disks:
        d = line.rates
        t = Text(f"{line.device[:9]:<9}")
        for v in (d.r_s, d.w_s, d.rkb_s, d.wkb_s):
            t.append(f"{compact_count(v):>7}")
        t.append(f"{d.r_await_ms:8.2f}{d.w_await_ms:8.2f}{d.aqu_sz:7.2f}")
        t.append(f"{d.util_pct:6.1f}", "bold red" if d.util_pct >= 90 else "")
        out.append(t)
    return out


def _nets(nets: tuple[NetLine, ...], keep: int | None) -> list[Text]:
    if keep is not None:
        nets = tuple(sorted(nets, key=lambda n: -(n.rx_bytes_s + n.tx_bytes_s))[:keep])
    out = [Text("NET        rx B/s  tx B/s  rx pk/s tx pk/s  errs/s drops/s", LABEL)]
    for n in nets:
        t = Text(f"{n.device[:9]:<9}", "dim" if n.virtual else "")
        t.append(f"{compact_size(n.rx_bytes_s):>8}{compact_size(n.tx_bytes_s):>8}")
        t.append(f"{compact_count(n.rx_packets_s):>9}{compact_count(n.tx_packets_s):>8}")
        t.append(f"{compact_count(n.errs_s):>8}", "bold red" if n.errs_s else "")
        t.append(f"{compact_count(n.drops_s):>8}", "bold red" if n.drops_s else "")
        out.append(t)
    return out


# ---- the process table ----

PROC_HEADER = "    PID USER      CPU%   RSS  THR   FDS  READ/s WRITE/s S COMMAND"


def _processes(view: TopView, width: int, room: int | None) -> list[Text]:
    head = Text(PROC_HEADER.ljust(width), HEADER)
    sort_col = {"cpu": "CPU%", "mem": "RSS", "io": "READ/s WRITE/s"}[view.options.sort]
    start = PROC_HEADER.index(sort_col)
    head.stylize("bold reverse", start, start + len(sort_col))
    if room is not None and room < 1:
        return []
    rows = view.processes if room is None else view.processes[: room - 1]
    out = [head]
    if not view.processes:
        out.append(Text(f"no process matches {view.options.filter!r}", "dim"))
    cmd_w = max(1, width - len(PROC_HEADER) + len("COMMAND"))
    out.extend(_process_row(p, cmd_w) for p in rows)
    return out


def _process_row(p: ProcLine, cmd_w: int) -> Text:
    r = p.row
    t = Text(f"{r.pid:>7} {r.user[:8]:<8} ")
    t.append(f"{compact_percent(r.cpu_pct):>5}", "bold" if r.cpu_pct >= 50 else "")
    fds = "-" if r.fds is None else str(r.fds)
    t.append(f" {compact_size(r.rss_bytes):>5} {r.threads:>4} {fds:>5}"
             f" {compact_size(r.read_bytes_s):>7} {compact_size(r.write_bytes_s):>7} ")
    t.append(r.state, "bold green" if r.state == "R" else ("bold red" if r.state == "D" else ""))
    t.append(" ")
    if p.tree:
        t.append(p.tree, "dim")
    cmd = Text(printable(r.cmdline))  # a newline in a command line must not break the row
    # in terminal cells, not characters: 日本 takes four
    cmd.truncate(max(0, cmd_w - len(p.tree)), overflow="ellipsis")
    t.append_text(cmd)
    return t


def _crop(t: Text, width: int) -> Text:
    if t.cell_len > width:
        t.truncate(width, overflow="ellipsis")
    return t

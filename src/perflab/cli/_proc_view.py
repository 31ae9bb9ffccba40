"""The terminal rendering of ``perflab proc``: rich panels and tables that fit 100 columns.

At 80 columns the wide tables drop their least essential columns (PSS and swap of each mapping,
per-thread context switches) instead of wrapping, and long paths are shortened from the left,
where they are least informative.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rich import box
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from perflab.collect.procinfo import (
    FileEntry,
    IoCounters,
    Mapping,
    Memory,
    ProcessReport,
    Scheduling,
    ThreadInfo,
)
from perflab.units import (
    format_byte_rate,
    format_duration,
    format_percent,
    format_rate,
    format_size,
    format_timestamp,
    printable,
)

WIDE = 100  # at or above this width every column is shown
NA = "-"


def render_report(report: ProcessReport, *, top_threads: int, top_files: int, reader: str,
                  console: Console | None = None) -> None:
    console = console or Console()
    for part in build_view(report, width=console.width, top_threads=top_threads,
                           top_files=top_files, reader=reader):
        console.print(part)


def build_view(report: ProcessReport, *, width: int, top_threads: int, top_files: int,
               reader: str, now: Callable[[], float] = time.time) -> list[RenderableType]:
    wide = width >= WIDE
    parts: list[RenderableType] = [_identity_panel(report, now())]
    if report.scheduling is not None:
        parts.append(_scheduling_panel(report.scheduling, wide=wide))
    if report.threads and top_threads:
        parts.append(_threads_table(report.threads, top_threads, wide=wide))
    if report.memory is not None and report.memory.rss is not None:
        parts.append(_memory_panel(report.memory, width=width, wide=wide))
    if report.files is not None:
        parts.append(_files_table(report.files, top_files, width=width))
    if report.io is not None:
        parts.append(_io_panel(report.io, wide=wide))
    if report.identity.limits:
        parts.append(_limits_table(report, wide=wide))
    if report.unavailable or report.notes:
        parts.append(_notes_panel(report, reader))
    return parts


# --------------------------------------------------------------------------------------------
# panels


def _pairs_grid(rows: list[tuple[str, str, str, str]], *, wide: bool) -> Table:
    """Label/value pairs, two to a line when wide, one to a line when narrow."""
    if wide:
        grid = _kv_grid(2)
        for row in rows:
            _add_row(grid, *row)
        return grid
    grid = _kv_grid(1)
    for k1, v1, k2, v2 in rows:
        _add_row(grid, k1, v1)
        if k2:
            _add_row(grid, k2, v2)
    return grid


def _kv_grid(columns: int = 1) -> Table:
    grid = Table.grid(padding=(0, 2))
    for _ in range(columns):
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column(overflow="fold")
    return grid


def _identity_panel(report: ProcessReport, now_s: float) -> Panel:
    ident = report.identity
    grid = _kv_grid()
    kind = " (kernel thread)" if ident.kernel_thread else ""
    _add_row(grid, "command", " ".join(ident.cmdline) or f"[{ident.name}]{kind}")
    _add_row(grid, "exe", _or_denied(ident.exe, report, "exe"))
    _add_row(grid, "cwd", _or_denied(ident.cwd, report, "cwd"))
    user = f"{ident.user} (uid {ident.uid[0]}, gid {ident.gid[0]})"
    if ident.uid[1] != ident.uid[0] or ident.gid[1] != ident.gid[0]:
        user += f"; effective {ident.effective_user} (uid {ident.uid[1]}, gid {ident.gid[1]})"
    _add_row(grid, "user", user)
    age = max(0.0, now_s - ident.start_time_ns / 1e9)
    _add_row(grid, "started",
             f"{format_timestamp(ident.start_time_ns)} ({format_duration(age)} ago)")
    threads = report.scheduling.threads if report.scheduling else len(report.threads)
    _add_row(grid, "state", f"{ident.state}, parent {ident.ppid}, {threads} thread"
                          f"{'s' if threads != 1 else ''}")
    cgroup = ident.cgroup if ident.cgroup is not None else "(no cgroup v2 path)"
    if ident.cgroup in (None, "/") and "memory" in ident.cgroup_v1:
        cgroup += f"  (v1 memory: {ident.cgroup_v1['memory']})"
    _add_row(grid, "cgroup", cgroup)
    title = Text.assemble((f"process {ident.pid}", "bold"), " ", ident.name)
    return Panel(grid, title=title, title_align="left", box=box.ROUNDED)


def _scheduling_panel(s: Scheduling, *, wide: bool) -> Panel:
    cpu = f"{_pct(s.cpu_pct)} of a core" if s.cpu_pct is not None else NA
    vol = _total_and_rate(s.voluntary_ctxt_switches, s.voluntary_ctxt_switches_per_s)
    invol = _total_and_rate(s.involuntary_ctxt_switches, s.involuntary_ctxt_switches_per_s)
    waited = format_duration(s.runqueue_wait_s) if s.runqueue_wait_s is not None else NA
    per_run = s.wait_per_timeslice_s
    grid = _pairs_grid([
        ("CPU", cpu, "run-queue wait",
         f"{_pct(s.runqueue_wait_pct)} of the interval" if s.runqueue_wait_pct is not None
         else NA),
        ("CPU time", f"user {format_duration(s.cpu_user_s)}, sys {format_duration(s.cpu_system_s)}",
         "wait per run", NA if per_run is None else format_duration(per_run)),
        ("timeslices", _total_and_rate(s.timeslices, s.timeslices_per_s),
         "waited in total", waited),
        ("voluntary cs", vol, "involuntary cs", invol),
        ("minor faults", _total_and_rate(s.minor_faults, s.minor_faults_per_s),
         "major faults", _total_and_rate(s.major_faults, s.major_faults_per_s)),
    ], wide=wide)
    over = (f"rates over {format_duration(s.interval_s)}" if s.interval_s > 0
            else "totals only: --interval 0")
    return Panel(grid, title=f"CPU and scheduling ({over})",
                 title_align="left", box=box.ROUNDED)


def _threads_table(threads: list[ThreadInfo], top: int, *, wide: bool) -> Table:
    table = _table(f"Threads ({len(threads)}, busiest first)")
    table.add_column("TID", justify="right")
    table.add_column("NAME", max_width=16, overflow="ellipsis", no_wrap=True)
    table.add_column("S")
    table.add_column("CPU%", justify="right")
    table.add_column("CPU TIME", justify="right")
    table.add_column("RUNQ%", justify="right")
    if wide:
        table.add_column("VCSW", justify="right")
        table.add_column("NVCSW", justify="right")
    table.add_column("WCHAN", overflow="ellipsis", no_wrap=True)
    for t in threads[:top]:
        row = [str(t.tid), t.name, t.state, _num(t.cpu_pct), format_duration(t.cpu_s),
               _num(t.runqueue_wait_pct)]
        if wide:
            row += [_int(t.voluntary_ctxt_switches), _int(t.involuntary_ctxt_switches)]
        row.append(NA if t.wchan is None else t.wchan or ("running" if t.state == "R" else ""))
        _add_row(table, *row)
    if len(threads) > top:
        table.caption = f"{len(threads) - top} more threads not shown (--threads N, --json)"
    return table


def _memory_panel(m: Memory, *, width: int, wide: bool) -> Group:
    grid = _pairs_grid([
        ("RSS", _size(m.rss) + _rss_split(m), "peak RSS", _size(m.rss_peak)),
        ("PSS", _size(m.pss), "USS", _size(m.uss)),
        ("swap", _size(m.swap), "virtual", _size(m.vsize)),
    ], wide=wide)
    parts: list[RenderableType] = [Panel(grid, title="Memory", title_align="left",
                                         box=box.ROUNDED)]
    if m.maps is not None and m.maps.top:
        parts.append(_maps_table(m, width=width, wide=wide))
    return Group(*parts)


def _rss_split(m: Memory) -> str:
    if m.rss_anon is None:
        return ""
    return (f"  (anon {_size(m.rss_anon)}, file {_size(m.rss_file)}, "
            f"shmem {_size(m.rss_shmem)})")


def _maps_table(m: Memory, *, width: int, wide: bool) -> Table:
    maps = m.maps
    assert maps is not None
    shown = len(maps.top)
    table = _table(f"Mappings (top {shown} of {maps.count} by RSS, sizes in KiB, like pmap -x)")
    table.show_footer = True
    nums: list[tuple[str, Callable[[Mapping], int], int]] = [
        ("KBYTES", lambda x: x.size, maps.total_size),
        ("RSS", lambda x: x.rss, maps.total_rss),
    ]
    if wide:
        nums.append(("PSS", lambda x: x.pss, maps.total_pss))
    nums.append(("DIRTY", lambda x: x.dirty, maps.total_dirty))
    if wide:
        nums.append(("SWAP", lambda x: x.swap, maps.total_swap))
    table.add_column("ADDRESS", footer="total", no_wrap=True)
    for name, _, total in nums:
        table.add_column(name, justify="right", footer=_kib(total), no_wrap=True)
    table.add_column("MODE", no_wrap=True)
    table.add_column("MAPPING", no_wrap=True, overflow="ellipsis")
    num_widths = [max(len(name), len(_kib(total))) for name, _, total in nums]
    budget = _last_column_budget(width, [12, *num_widths, 4])
    for x in maps.top:
        _add_row(table, f"{x.start:012x}", *(_kib(get(x)) for _, get, _ in nums), x.mode,
                      _shorten_left(x.name, budget))
    return table


def _files_table(files: list[FileEntry], top: int, *, width: int) -> Table:
    table = _table(f"Open files ({len(files)})")
    table.add_column("FD", justify="right", no_wrap=True)
    table.add_column("TYPE", no_wrap=True)
    table.add_column("MODE", no_wrap=True)
    table.add_column("POS", justify="right", no_wrap=True)
    table.add_column("NAME", overflow="fold")
    shown = files[:top]
    pos_width = max([3, *(len(_pos(f)) for f in shown)])
    type_width = max([4, *(len(f.type) for f in shown)])
    budget = _last_column_budget(width, [max(2, len(str(files[-1].fd)) if files else 2),
                                         type_width, 4, pos_width])
    for f in shown:
        name = f.name
        if f.socket is not None and f.socket.extra:
            name += f" {f.socket.extra}"
        _add_row(table, str(f.fd), f.type, f.mode or NA,
                      _pos(f),
                      _shorten_left(name, budget) if name.startswith("/") else name)
    if len(files) > top:
        table.caption = f"{len(files) - top} more open files not shown (--files N, --json)"
    return table


def _io_panel(io: IoCounters, *, wide: bool) -> Panel:
    grid = _pairs_grid([
        ("read()", f"{_size(io.rchar)} in {_calls(io.syscr)}",
         "write()", f"{_size(io.wchar)} in {_calls(io.syscw)}"),
        ("from storage", _size(io.read_bytes) + _per_s(io.read_bytes_per_s),
         "to storage", _size(io.write_bytes) + _per_s(io.write_bytes_per_s)),
        ("cancelled writes", _size(io.cancelled_write_bytes), "", ""),
    ], wide=wide)
    return Panel(grid, title="I/O", title_align="left", box=box.ROUNDED)


def _limits_table(report: ProcessReport, *, wide: bool) -> Table:
    """The rows of /proc/PID/limits: side by side in two halves when wide, else one list."""
    table = _table("Limits (soft / hard)")
    limits = report.identity.limits
    halves = 2 if wide else 1
    for _ in range(halves):
        table.add_column("LIMIT", no_wrap=True)
        table.add_column("SOFT", justify="right", no_wrap=True)
        table.add_column("HARD", justify="right", no_wrap=True)
    per_column = (len(limits) + halves - 1) // halves
    for i in range(per_column):
        row: list[str] = []
        for lim in limits[i::per_column]:
            row += [_limit_name(lim.name), _limit_value(lim.soft, lim.unit),
                    _limit_value(lim.hard, lim.unit)]
        _add_row(table, *row)
    return table


def _notes_panel(report: ProcessReport, reader: str) -> Panel:
    lines = Text()
    for note in report.notes:
        lines.append(f"{note}\n")
    denied = {k: v for k, v in report.unavailable.items() if v.startswith("permission denied")}
    other = {k: v for k, v in report.unavailable.items() if k not in denied}
    if denied:
        lines.append("permission denied: ", style="bold yellow")
        lines.append(", ".join(sorted(_item_label(k) for k in denied)) + "\n")
        owner = report.identity.user
        who = "root" if owner == "root" else f"its user ({owner}) or root"
        lines.append(
            f"perflab runs as {reader}; the kernel shows these only to {who}. "
            f"Run `sudo perflab proc {report.identity.pid}` to see them.\n")
    for item, why in other.items():
        lines.append(f"{_item_label(item)}: {why}\n")
    lines.rstrip()
    title = "Not shown" if report.unavailable else "Notes"
    return Panel(lines, title=title, title_align="left", border_style="yellow",
                 box=box.ROUNDED)


_ITEM_LABELS = {
    "exe": "executable path", "cwd": "working directory", "io": "I/O counters",
    "memory.pss": "PSS/USS", "memory.maps": "memory maps", "files": "open files",
    "files.fdinfo": "file positions and flags", "threads.wchan": "thread wait channels",
}


def _item_label(item: str) -> str:
    return _ITEM_LABELS.get(item, item)


# --------------------------------------------------------------------------------------------
# small formatters


def _add_row(table: Table, *cells: str | Text) -> None:
    """Add a row of plain text: "[heap]" or a process named "[x]" is not rich markup, and a
    newline in a command line or a file name is shown as ``?`` rather than breaking the row."""
    table.add_row(*(Text(printable(c)) if isinstance(c, str) else c for c in cells))


def _table(title: str) -> Table:
    return Table(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD,
                 show_edge=False,
                 pad_edge=False, header_style="bold", caption_justify="left")


def _or_denied(value: str | None, report: ProcessReport, item: str) -> str:
    if value is not None:
        return value
    return "permission denied" if item in report.unavailable else NA


def _last_column_budget(width: int, others: list[int]) -> int:
    """Room left for the last column of our tables: no edges, 3 columns of gap between columns."""
    return max(12, width - sum(others) - 3 * len(others))


def _pos(f: FileEntry) -> str:
    """The file offset where it means something (regular files and block devices), as lsof."""
    return NA if f.pos is None or f.type not in ("REG", "BLK") else _int(f.pos)


def _size(n: int | None) -> str:
    return NA if n is None else format_size(n)


def _kib(n: int) -> str:
    return f"{n // 1024:,}"


def _int(n: int | None) -> str:
    return NA if n is None else f"{n:,}"


def _calls(n: int | None) -> str:
    return f"{_int(n)} call{'' if n == 1 else 's'}"


def _num(x: float | None) -> str:
    return NA if x is None else f"{x:.1f}"


def _pct(x: float | None) -> str:
    return NA if x is None else format_percent(x)


def _per_s(x: float | None) -> str:
    return "" if x is None else f"  ({format_byte_rate(x)})"


def _total_and_rate(total: int | None, rate: float | None) -> str:
    text = _int(total)
    if rate is not None:
        text += f" ({format_rate(rate)})"
    return text


def _limit_name(name: str) -> str:
    return name.removeprefix("Max ")


def _limit_value(value: int | None, unit: str) -> str:
    if value is None:
        return "unlimited"
    if unit == "bytes":
        return format_size(value)
    return f"{value:,}"


def _shorten_left(text: str, budget: int) -> str:
    """Keep the end of a long path (the file name), marking the cut with an ellipsis."""
    if len(text) <= budget:
        return text
    return "…" + text[-(budget - 1):]

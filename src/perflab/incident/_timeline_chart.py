"""The Incident page's timeline as a chart: one lane per kind of moment (alerts, deploys,
chaos faults, the capture's steps, findings, the responders' notes and actions) over the time
the moments span, an alert or a fault that lasted drawn as a bar, the opening (and closing) as
rules across every lane. Positions are percentages of the width, so the chart is HTML that
narrows with the page; the table below it keeps every moment's full text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from perflab.store import CHAOS_FAULT_EVENT
from perflab.units import format_duration_ns, format_timestamp

if TYPE_CHECKING:
    from perflab.incident._timeline import Moment

# (lane, its label), top to bottom: the causes first, then what the responders did
LANES = (("alert", "alerts"), ("deploy", "deploys"), ("fault", "chaos"),
         ("evidence", "capture"), ("finding", "findings"), ("note", "notes"))
_LANE_OF = {"alert": "alert", "deploy": "deploy", "fault": "fault", "evidence": "evidence",
            "finding": "finding", "note": "note", "action": "note"}
_RULES = ("opened", "closed")
_TICK_GAP = 15.0  # % of the width two axis labels keep between them
_PAD = 3.0  # % of the width left empty at each end, so a mark at an end is not cut in half


def display_kind(kind: str) -> str:
    """A moment's kind as the page names it (a chaos fault event is a ``fault``)."""
    return "fault" if kind == CHAOS_FAULT_EVENT else kind


@dataclass(frozen=True, slots=True)
class Mark:
    kind: str
    left: float   # % of the chart's width
    width: float  # % (0: an instant)
    title: str    # the tooltip: when, and what
    link: str


@dataclass(frozen=True, slots=True)
class Lane:
    name: str
    label: str
    marks: list[Mark]


@dataclass(frozen=True, slots=True)
class Chart:
    lanes: list[Lane]
    rules: list[Mark]           # opened, closed
    ticks: list[tuple[float, str]]  # (% of the width, label)


def relative(ts_ns: int, opened_ns: int) -> str:
    """``-5m01s`` before the opening, ``+3.00s`` after it."""
    delta = ts_ns - opened_ns
    return ("+" if delta >= 0 else "") + format_duration_ns(delta)


def clock(ts_ns: int) -> str:
    """``16:54:53``: the time of day in UTC, as the page's full timestamps are."""
    return format_timestamp(ts_ns)[11:19]


def timeline_chart(moments: list[Moment], opened_ns: int) -> Chart | None:
    """The chart of an incident's moments (None without any)."""
    if not moments:
        return None
    start = min(m.ts_ns for m in moments)
    end = max(max(m.ts_ns, m.end_ns or 0) for m in moments)
    span = max(end - start, 1)

    def at(ts: int) -> float:
        return round(_PAD + (100 - 2 * _PAD) * (ts - start) / span, 3)

    lanes = {name: Lane(name, label, []) for name, label in LANES}
    rules = []
    for m in moments:
        kind = display_kind(m.kind)
        title = f"{clock(m.ts_ns)} ({relative(m.ts_ns, opened_ns)}) {kind}: {m.text}"
        if m.end_ns is not None and m.end_ns > m.ts_ns:
            width = round(at(m.end_ns) - at(m.ts_ns), 3)
            title += f" (for {format_duration_ns(m.end_ns - m.ts_ns)})"
        else:
            width = 0.0
        mark = Mark(kind, at(m.ts_ns), width, title, m.link)
        if kind in _RULES:
            rules.append(mark)
        elif kind in _LANE_OF:
            lanes[_LANE_OF[kind]].marks.append(mark)
    ticks = [(at(start), clock(start)), (at(end), clock(end))]
    if start < opened_ns < end:  # the ends' labels give way to the opening's when close
        mid = at(opened_ns)
        ticks = sorted([*(t for t in ticks if abs(t[0] - mid) >= _TICK_GAP),
                        (mid, f"opened {clock(opened_ns)}")])
    return Chart([lane for lane in lanes.values() if lane.marks], rules, ticks)

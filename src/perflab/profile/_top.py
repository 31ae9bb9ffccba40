"""``pprof top``: flat and cumulative cost per function, with ``go tool pprof -top``'s rules.

The rules, in the order pprof applies them:

1. the total is the sum of |value| over every sample, taken *before* any filter, so the
   percentages of a focused view stay relative to the whole profile;
2. ``focus`` keeps samples with a frame matching it, ``ignore`` drops samples with a frame
   matching it, ``hide`` removes matching frames from stacks (a regex matches a frame's
   function name, source file or module, anywhere in the text);
3. nodes are functions (file and line dropped); a frame without a function is its module,
   ``[libfoo.so]``;
4. cum counts a sample once per function even under recursion; flat goes to the leaf;
5. functions whose |cum| is below ``nodefraction`` of the (filtered) flat total are dropped
   and the remaining graph rebuilt, so a dropped leaf's time is no one's flat;
6. rows sorted by |flat| (or |cum| with ``cum``) descending, then by name;
7. an optional node count keeps the first N rows;
8. one output unit for the table (see ``_measure.output_unit``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from perflab.errors import InvalidValue
from perflab.profile import _measure
from perflab.profile._model import Frame, Profile


@dataclass(frozen=True, slots=True)
class TopOptions:
    sample_index: str | None = None
    cum: bool = False
    node_fraction: float = 0.005
    edge_fraction: float = 0.001
    node_count: int = 0
    focus: str | None = None
    ignore: str | None = None
    hide: str | None = None


@dataclass(frozen=True, slots=True)
class TopRow:
    name: str
    flat: int
    cum: int
    flat_text: str
    cum_text: str
    flat_pct: str
    sum_pct: str
    cum_pct: str
    inline: str = ""


@dataclass(slots=True)
class TopReport:
    sample_type: str
    unit: str
    output_unit: str
    total: int
    rows: list[TopRow]
    labels: list[str] = field(default_factory=list)
    dropped_nodes: int = 0

    def text(self) -> str:
        lines = [*self.labels, f"{'flat':>10} {'flat':>5}% {'sum':>5}% {'cum':>10} {'cum':>5}%"]
        lines += [f"{r.flat_text:>10} {r.flat_pct} {r.sum_pct} {r.cum_text:>10} {r.cum_pct}  "
                  f"{r.name}{' ' + r.inline if r.inline else ''}" for r in self.rows]
        return "\n".join(lines) + "\n"


def _compile(name: str, pattern: str | None) -> re.Pattern[str] | None:
    if not pattern:
        return None
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise InvalidValue(f"parsing {name} regexp: {exc}",
                           hint="pprof options take regular expressions") from exc


def _frame_matches(f: Frame, rx: re.Pattern[str]) -> bool:
    return bool(rx.search(f.function) or rx.search(f.file) or rx.search(f.module))


def filter_samples(prof: Profile, focus: str | None, ignore: str | None,
                   hide: str | None) -> list[tuple[tuple[int, ...], list[int]]]:
    """The (stack, values) pairs left after pprof's focus/ignore/hide."""
    frx, irx, hrx = _compile("focus", focus), _compile("ignore", ignore), _compile("hide", hide)
    if frx is None and irx is None and hrx is None:
        return [(s.stack, s.values) for s in prof.samples]
    # per frame: True focused, False ignored, absent neither (pprof does this per location)
    verdict: dict[int, bool] = {}
    hidden: set[int] = set()
    for i, f in enumerate(prof.frames):
        if irx is not None and _frame_matches(f, irx):
            verdict[i] = False
        elif frx is None or _frame_matches(f, frx):
            verdict[i] = True
        if hrx is not None and _frame_matches(f, hrx):
            hidden.add(i)
    out = []
    for s in prof.samples:
        focused = False
        for i in s.stack:
            v = verdict.get(i)
            if v is False:
                focused = False
                break
            if v:
                focused = True
        if not focused:
            continue
        stack = tuple(i for i in s.stack if i not in hidden) if hidden else s.stack
        if stack:
            out.append((stack, s.values))
    return out


def node_name(f: Frame) -> str:
    """pprof's printable name of a function node."""
    if f.function:
        return f.function
    if f.module:
        return "[" + f.module.rsplit("/", 1)[-1] + "]"
    return "<unknown>"


@dataclass(slots=True)
class _Node:
    name: str
    flat: int = 0
    cum: int = 0
    # caller node -> [weight, inline]: pprof labels a node (inline) from its incoming edges
    callers: dict[str, list[int]] = field(default_factory=dict)


def build_graph(prof: Profile, samples: list[tuple[tuple[int, ...], list[int]]], index: int,
                kept: set[str] | None = None) -> list[_Node]:
    names = [node_name(f) for f in prof.frames]
    node_of: dict[str, int] = {}
    nodes: list[_Node] = []
    frame_node: list[int] = []
    for name in names:
        if kept is not None and name not in kept:
            frame_node.append(-1)
            continue
        k = node_of.get(name)
        if k is None:
            k = node_of[name] = len(nodes)
            nodes.append(_Node(name))
        frame_node.append(k)
    inlined = [f.inlined for f in prof.frames]
    for stack, values in samples:
        w = values[index]
        if w == 0:
            continue
        seen: set[int] = set()
        seen_edges: set[tuple[int, int]] = set()
        parent = -1
        residual = False
        for fi in reversed(stack):  # root to leaf
            n = frame_node[fi]
            if n < 0:
                residual = True
                continue
            if n not in seen:
                seen.add(n)
                nodes[n].cum += w
            if parent >= 0 and n != parent and (n, parent) not in seen_edges:
                seen_edges.add((n, parent))
                edge = nodes[n].callers.get(nodes[parent].name)
                if edge is None:
                    nodes[n].callers[nodes[parent].name] = [w, int(inlined[fi])]
                else:
                    edge[0] += w
                    if not inlined[fi]:
                        edge[1] = 0
            parent = n
            residual = False
        if parent >= 0 and not residual:
            nodes[parent].flat += w
    return [n for n in nodes if n.cum or n.flat]


@dataclass(slots=True)
class _Graph:
    nodes: list[_Node]
    total: int
    flat_total: int
    edge_cutoff: int
    dropped: int
    orig_count: int


def _graph(prof: Profile, opts: TopOptions, index: int) -> _Graph:
    total = prof.total(index)
    samples = filter_samples(prof, opts.focus, opts.ignore, opts.hide)
    nodes = build_graph(prof, samples, index)
    flat_total = sum(n.flat for n in nodes)
    node_cutoff = abs(int(flat_total * opts.node_fraction))
    edge_cutoff = abs(int(flat_total * opts.edge_fraction))
    dropped = 0
    if node_cutoff > 0:
        kept = {n.name for n in nodes if abs(n.cum) >= node_cutoff}
        if len(kept) != len(nodes):
            dropped = len(nodes) - len(kept)
            nodes = build_graph(prof, samples, index, kept)
    orig_count = len(nodes)
    _sort(nodes, cum=opts.cum)
    if 0 < opts.node_count < len(nodes):
        # pprof rebuilds the graph from the kept functions: a dropped leaf's time is no one's flat
        kept = {n.name for n in nodes[: opts.node_count]}
        nodes = build_graph(prof, samples, index, kept)
        _sort(nodes, cum=opts.cum)
    return _Graph(nodes, total, flat_total, edge_cutoff, dropped, orig_count)


def _sort(nodes: list[_Node], *, cum: bool) -> None:
    if cum:
        nodes.sort(key=lambda n: (-abs(n.cum), n.name, -abs(n.flat)))
    else:
        nodes.sort(key=lambda n: (-abs(n.flat), n.name, -abs(n.cum)))


def _formatter(g: _Graph, unit_in: str) -> tuple[str, Callable[[int], str]]:
    """One unit for the whole table, from the smallest non-zero value and the total."""
    min_value = 0
    for n in g.nodes:
        v = abs(n.flat) or abs(n.cum)
        if v > 0 and (min_value == 0 or v < min_value):
            min_value = v
    unit = _measure.output_unit(min_value, g.total, unit_in)

    def fmt(v: int) -> str:
        return _measure.scaled_label(v, unit_in, unit)

    return unit, fmt


def top(prof: Profile, opts: TopOptions | None = None) -> TopReport:
    opts = opts or TopOptions()
    index = prof.sample_index(opts.sample_index)
    st = prof.sample_types[index]
    g = _graph(prof, opts, index)
    unit, fmt = _formatter(g, st.unit.lower())
    total = g.total
    rows = []
    flat_sum = 0
    for n in g.nodes:
        flat_sum += n.flat
        has_inline = has_call = False
        for weight, inline in n.callers.values():
            if abs(weight) < g.edge_cutoff:
                continue  # pprof trims low-frequency edges before labelling
            if inline:
                has_inline = True
            else:
                has_call = True
        inl = ("(partial-inline)" if has_call else "(inline)") if has_inline else ""
        rows.append(TopRow(n.name, n.flat, n.cum, fmt(n.flat), fmt(n.cum),
                           _measure.percentage(n.flat, total),
                           _measure.percentage(flat_sum, total),
                           _measure.percentage(n.cum, total), inl))
    report = TopReport(st.type, st.unit, unit, total, rows, dropped_nodes=g.dropped)
    report.labels = _labels(prof, opts, report, fmt, flat_sum=flat_sum,
                            orig_count=g.orig_count)
    return report


@dataclass(frozen=True, slots=True)
class PeekEdge:
    name: str
    value: int
    text: str
    pct: str
    inline: bool


@dataclass(frozen=True, slots=True)
class PeekEntry:
    row: TopRow
    callers: list[PeekEdge]
    callees: list[PeekEdge]


@dataclass(slots=True)
class PeekReport:
    sample_type: str
    unit: str
    output_unit: str
    total: int
    entries: list[PeekEntry]
    labels: list[str] = field(default_factory=list)

    def text(self) -> str:
        sep = "-" * 58 + "+" + "-" * 13
        lines = [*self.labels, sep,
                 # pprof's legend, trailing tabs included, so outputs compare byte for byte
                 "      flat  flat%   sum%        cum   cum%   calls calls% + context \t \t "]
        for e in self.entries:
            lines.append(sep)
            lines += [f"{c.text:>50} {c.pct} |   {c.name}{' (inline)' if c.inline else ''}"
                      for c in e.callers]
            r = e.row
            lines.append(f"{r.flat_text:>10} {r.flat_pct} {r.sum_pct} {r.cum_text:>10} "
                         f"{r.cum_pct}                | {r.name}")
            lines += [f"{c.text:>50} {c.pct} |   {c.name}{' (inline)' if c.inline else ''}"
                      for c in e.callees]
        if self.entries:
            lines.append(sep)
        return "\n".join(lines) + "\n"


def peek(prof: Profile, regex: str, opts: TopOptions | None = None) -> PeekReport:
    """Callers and callees of the functions matching ``regex`` (pprof's ``-peek``: no trimming)."""
    opts = opts or TopOptions()
    opts = TopOptions(sample_index=opts.sample_index, cum=opts.cum, node_fraction=0,
                      edge_fraction=0, node_count=0, focus=opts.focus, ignore=opts.ignore,
                      hide=opts.hide)
    rx = _compile("peek", regex)
    assert rx is not None
    index = prof.sample_index(opts.sample_index)
    st = prof.sample_types[index]
    g = _graph(prof, opts, index)
    unit, fmt = _formatter(g, st.unit.lower())
    # callee edges, by inverting each node's callers
    callees: dict[str, list[tuple[str, int, bool]]] = {}
    for n in g.nodes:
        for caller, (w, inl) in n.callers.items():
            callees.setdefault(caller, []).append((n.name, w, bool(inl)))
    entries = []
    flat_sum = 0
    for n in g.nodes:
        if not rx.search(n.name):
            continue
        flat_sum += n.flat  # pprof sums the matched rows only

        def edges(items: list[tuple[str, int, bool]], cum: int) -> list[PeekEdge]:
            items.sort(key=lambda t: (-abs(t[1]), t[0]))
            return [PeekEdge(nm, w, fmt(w), _measure.percentage(w, cum), inl)
                    for nm, w, inl in items]

        callers = [(c, w, bool(inl)) for c, (w, inl) in n.callers.items()]
        row = TopRow(n.name, n.flat, n.cum, fmt(n.flat), fmt(n.cum),
                     _measure.percentage(n.flat, g.total), _measure.percentage(flat_sum, g.total),
                     _measure.percentage(n.cum, g.total))
        entries.append(PeekEntry(row, edges(callers, n.cum),
                                 edges(list(callees.get(n.name, [])), n.cum)))
    if not entries:
        raise InvalidValue(f"no matches found for regexp: {regex}",
                           hint="`perflab pprof top FILE` lists the function names")
    report = PeekReport(st.type, st.unit, unit, g.total, entries)
    report.labels = _labels(prof, opts, TopReport(st.type, st.unit, unit, g.total, [],
                                                  dropped_nodes=g.dropped),
                            fmt, flat_sum=sum(n.flat for n in g.nodes),
                            orig_count=g.orig_count)
    return report


def _labels(prof: Profile, opts: TopOptions, rpt: TopReport, fmt: Callable[[int], str], *,
            flat_sum: int, orig_count: int) -> list[str]:
    out = []
    if prof.main_module:
        out.append("File: " + prof.main_module.rsplit("/", 1)[-1])
    if prof.build_id:
        out.append("Build ID: " + prof.build_id)
    out += [c for c in prof.comments if not c.startswith("#")]
    out.append("Type: " + rpt.sample_type)
    if prof.time_ns:
        import time  # noqa: PLC0415

        t = time.localtime(prof.time_ns / 1e9)
        hour = t.tm_hour % 12 or 12
        out.append("Time: " + time.strftime("%b ", t) + f"{t.tm_mday}, {t.tm_year} at "
                   f"{hour}:{t.tm_min:02d}{'am' if t.tm_hour < 12 else 'pm'} ({t.tm_zone})")
    if prof.duration_ns:
        duration = _measure.scaled_label(prof.duration_ns, "nanoseconds", "auto")
        total_ns, total_unit = _measure.scale(rpt.total, rpt.unit.lower(), "nanoseconds")
        ratio = ""
        if total_unit == "ns" and total_ns:
            ratio = "(" + _measure.percentage(int(total_ns), prof.duration_ns) + ")"
        out.append(f"Duration: {duration}, Total samples = {fmt(rpt.total)} {ratio}")
    filters = [f"{k}={v}" for k, v in (("focus", opts.focus), ("ignore", opts.ignore),
                                        ("hide", opts.hide)) if v]
    if filters:
        out.append("Active filters:")
        out += ["   " + (f if len(f) <= 80 else f[:80] + "…") for f in filters]
    out.append(f"Showing nodes accounting for {fmt(flat_sum)}, "
               f"{_measure.percentage(flat_sum, rpt.total).strip()} of {fmt(rpt.total)} total")
    if rpt.total and rpt.dropped_nodes:
        s = "s" if rpt.dropped_nodes > 1 else ""
        out.append(f"Dropped {rpt.dropped_nodes} node{s} (cum <= "
                   f"{fmt(abs(int(rpt.total * opts.node_fraction)))})")
    if rpt.total and 0 < len(rpt.rows) < orig_count:
        out.append(f"Showing top {len(rpt.rows)} nodes out of {orig_count}")
    return out

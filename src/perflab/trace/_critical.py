"""The critical path of a trace: the chain of span sections that determines its end-to-end latency.

Jaeger's algorithm (its UI's ``computeCriticalPath``, and ``criticalpath.go`` of its query
service): start at the root's end; in the current span, take the child that finished last
(LFC) before the cursor: the span itself is critical from that child's end to the cursor, then
the path goes down into the child. A span with no such child is critical from its start to the
cursor, and the path goes back up to its parent with the cursor at the span's start, where the
next child taken is the one that finished last before that moment. Children that overlap are
thus resolved by the last-finishing one; an asynchronous child that outlives its parent is
first cut to the parent's end (one that starts after the parent ended, or ends before it
started, is left out, with its subtree), so the path never leaves the root's time.

Two choices the sources leave open, made here and pinned by the tests: among children that end
at the same time the first in the trace's order (start time, then span id) is taken; parents
are made to fit before their children (a pre-order walk), so a child is cut to its parent's
already-cut time. The walk is iterative: a trace 100,000 spans deep has no recursion limit.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from perflab.trace._contracts import ApiTraceSection
    from perflab.trace._model import Span, Trace


@dataclass(frozen=True, slots=True)
class Section:
    span_id: bytes
    start_ns: int
    end_ns: int

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns

    def to_json(self) -> ApiTraceSection:
        return {"span_id": self.span_id.hex(), "start_ns": self.start_ns, "end_ns": self.end_ns}


@dataclass(slots=True)
class _Node:
    start: int
    end: int
    parent: bytes | None
    children: list[bytes]
    ends: list[int] | None = None  # children sorted by (end, -order): their ends, for bisect
    by_end: list[bytes] | None = None


def fitted_spans(trace: Trace) -> tuple[bytes | None, dict[bytes, _Node]]:
    """The root's id and every span reachable from it, cut to fit inside its parent."""
    root = _root(trace)
    if root is None:
        return None, {}
    ids = {s.span_id for s in trace.spans}
    order = {s.span_id: i for i, s in enumerate(trace.spans)}
    children: dict[bytes, list[bytes]] = {}
    for s in trace.spans:
        if s.parent_id is not None and s.parent_id in ids and s.span_id != root.span_id:
            children.setdefault(s.parent_id, []).append(s.span_id)
    spans = {s.span_id: s for s in trace.spans}
    nodes: dict[bytes, _Node] = {root.span_id: _Node(root.start_ns, root.end_ns, None, [])}
    stack = [root.span_id]
    while stack:  # pre-order: a parent is fitted before its children are cut to it
        pid = stack.pop()
        parent = nodes[pid]
        for cid in children.get(pid, ()):
            if cid in nodes:  # a cycle of parent ids: each span once
                continue
            c = spans[cid]
            start, end = c.start_ns, c.end_ns
            if start >= parent.start:
                if start >= parent.end:
                    continue  # starts after its parent ended: left out, with its subtree
                end = min(end, parent.end)
            else:
                if end <= parent.start:
                    continue  # ended before its parent started
                start, end = parent.start, min(end, parent.end)
            nodes[cid] = _Node(start, end, pid, [])
            parent.children.append(cid)
            stack.append(cid)
    for node in nodes.values():
        kids = sorted(node.children, key=lambda k: (nodes[k].end, -order[k]))
        node.by_end = kids
        node.ends = [nodes[k].end for k in kids]
    return root.span_id, nodes


def _root(trace: Trace) -> Span | None:
    for s in trace.spans:
        if s.parent_id is None:
            return s
    return trace.root()


def critical_path(trace: Trace) -> list[Section]:
    """The critical path's sections, from the end of the trace backwards (as Jaeger lists
    them). Their durations add up to the root's duration."""
    root, nodes = fitted_spans(trace)
    if root is None:
        return []
    sections: list[Section] = []
    current = root
    cursor: int | None = None  # None: first visit (any child may be the last to finish)
    while True:
        node = nodes[current]
        end = node.end if cursor is None else cursor
        child = _last_finishing(node, cursor)
        if child is not None:
            child_end = nodes[child].end
            if child_end != end:
                sections.append(Section(current, child_end, end))
            current, cursor = child, None
            continue
        if node.start != end:
            sections.append(Section(current, node.start, end))
        if current == root or node.parent is None:
            return sections
        current, cursor = node.parent, node.start


def _last_finishing(node: _Node, cursor: int | None) -> bytes | None:
    assert node.ends is not None
    assert node.by_end is not None
    if not node.by_end:
        return None
    if cursor is None:
        return node.by_end[-1]
    # the last child ending strictly before the cursor; children with equal ends are sorted
    # last-in-trace-order first, so this is the first of them in the trace's order
    i = bisect_left(node.ends, cursor)
    return node.by_end[i - 1] if i else None


def critical_time_by_span(trace: Trace) -> dict[bytes, int]:
    """Nanoseconds of the critical path each span accounts for."""
    out: dict[bytes, int] = {}
    for sec in critical_path(trace):
        out[sec.span_id] = out.get(sec.span_id, 0) + sec.duration_ns
    return out

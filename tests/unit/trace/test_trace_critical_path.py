"""The critical path equals a brute-force reference on generated traces (Hypothesis), including
overlapping children, asynchronous children that outlive their parent, skewed children that
start before it, orphans and zero-length spans; and Jaeger's own examples."""

from __future__ import annotations

from itertools import combinations

from hypothesis import given, settings
from hypothesis import strategies as st

from perflab.trace import Process, Span, Trace, critical_path

P = Process("svc")


def _trace(rows: list[tuple[int, int | None, int, int]]) -> Trace:
    """rows: (span number, parent number or None, start, end); ordered as the store orders."""
    spans = [Span(b"\1" * 16, n.to_bytes(8, "big"), None if p is None else p.to_bytes(8, "big"),
                  f"op{n}", 1, start, end - start, P) for n, p, start, end in rows]
    spans.sort(key=lambda s: (s.start_ns, s.span_id))
    return Trace(b"\1" * 16, tuple(spans), len(spans))


def _path(trace: Trace) -> list[tuple[int, int, int]]:
    return [(int.from_bytes(s.span_id, "big"), s.start_ns, s.end_ns)
            for s in critical_path(trace)]


# -- the brute-force reference ---------------------------------------------------------------

def reference(trace: Trace) -> list[tuple[int, int, int]]:
    """Jaeger's definition, written without its greedy walk: fit every child into its parent
    (recursively, dropping those wholly outside), then in each span take, among ALL chains of
    its children that run backwards in time (each ending strictly before the next one
    starts), the lexicographically latest one (by end, then earliest in trace order); the span
    fills the gaps between them."""
    order = {s.span_id: i for i, s in enumerate(trace.spans)}
    kids: dict[bytes, list[Span]] = {}
    for s in trace.spans:
        if s.parent_id is not None:
            kids.setdefault(s.parent_id, []).append(s)
    root = next((s for s in trace.spans if s.parent_id is None), None)
    if root is None:
        return []

    def fitted(span_id: bytes, ps: int, pe: int) -> list[tuple[bytes, int, int]]:
        out = []
        for c in kids.get(span_id, []):
            cs, ce = c.start_ns, c.end_ns
            if (ps <= cs < pe) or (cs < ps < ce):
                out.append((c.span_id, max(cs, ps), min(ce, pe)))
        return out

    def sections(span_id: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
        children = fitted(span_id, start, end)
        best: list[tuple[int, int]] = []
        best_chain: tuple = ()
        for k in range(1, len(children) + 1):
            for combo in combinations(children, k):
                chain = sorted(combo, key=lambda c: (-c[2], order[c[0]]))
                if any(chain[i + 1][2] >= chain[i][1] for i in range(len(chain) - 1)):
                    continue
                key = [(c[2], -order[c[0]]) for c in chain]
                if key > best:
                    best, best_chain = key, tuple(chain)
        me = int.from_bytes(span_id, "big")
        out = []
        cursor = end
        for cid, cs, ce in best_chain:
            if ce != cursor:
                out.append((me, ce, cursor))
            out += sections(cid, cs, ce)
            cursor = cs
        if start != cursor:
            out.append((me, start, cursor))
        return out

    return sections(root.span_id, root.start_ns, root.end_ns)


@st.composite
def traces(draw: st.DrawFn) -> Trace:
    n = draw(st.integers(1, 9))
    rows = []
    for i in range(n):
        start = draw(st.integers(0, 60))
        end = start + draw(st.integers(0, 40))
        parent = None if i == 0 else draw(st.integers(0, i - 1))
        rows.append((i + 1, None if parent is None else parent + 1, start, end))
    if n > 2 and draw(st.booleans()):  # an orphan: its parent never arrived
        start = draw(st.integers(0, 60))
        rows.append((n + 1, 999, start, start + draw(st.integers(0, 30))))
    return _trace(rows)


@settings(max_examples=400, deadline=None)
@given(traces())
def test_critical_path_equals_the_brute_force_reference(trace):
    assert _path(trace) == reference(trace)


@settings(max_examples=200, deadline=None)
@given(traces())
def test_the_path_tiles_the_root_backwards(trace):
    """Sections are contiguous from the root's end back to its start."""
    root = next(s for s in trace.spans if s.parent_id is None)
    path = _path(trace)
    cursor = root.end_ns
    for _, start, end in path:
        assert end == cursor
        assert start < end
        cursor = start
    assert cursor == root.start_ns or (not path and root.duration_ns == 0)


def test_jaegers_example_overlapping_children():
    """criticalpath.go's example: spanA with B then C: A, C, A, B, A from the end back."""
    t = _trace([(1, None, 0, 100), (2, 1, 10, 40), (3, 1, 50, 80)])
    assert _path(t) == [(1, 80, 100), (3, 50, 80), (1, 40, 50), (2, 10, 40), (1, 0, 10)]


def test_the_last_finishing_of_overlapping_children_wins():
    t = _trace([(1, None, 0, 100), (2, 1, 5, 90), (3, 1, 10, 60)])
    assert _path(t) == [(1, 90, 100), (2, 5, 90), (1, 0, 5)]


def test_an_async_child_outliving_its_parent_is_cut_to_the_parent():
    t = _trace([(1, None, 0, 50), (2, 1, 10, 200), (3, 2, 150, 180)])
    # the child is cut at 50; its own child starts after that and is left out
    assert _path(t) == [(2, 10, 50), (1, 0, 10)]


def test_a_skewed_child_starting_before_its_parent_is_cut():
    t = _trace([(1, None, 100, 200), (2, 1, 50, 150)])
    assert _path(t) == [(1, 150, 200), (2, 100, 150)]


def test_a_deep_trace_has_no_recursion_limit():
    n = 50_000
    rows: list[tuple[int, int | None, int, int]] = [(1, None, 0, 2 * n)]
    rows += [(i, i - 1, i, 2 * n - i) for i in range(2, n + 1)]
    path = _path(_trace(rows))
    assert len(path) == 2 * (n - 1)  # span n has zero length: no section
    assert path[0] == (1, 2 * n - 2, 2 * n)

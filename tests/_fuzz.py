"""Hypothesis strategies that the fuzz tests of several parsers share: anything JSON can hold,
and a real document with one value somewhere replaced by it."""

from __future__ import annotations

import json
from collections.abc import Collection

from hypothesis import strategies as st

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12)


@st.composite
def mutated_json(draw: st.DrawFn, seeds: st.SearchStrategy[object],
                 keep: Collection[str] = ()) -> object:
    """A copy of a seed document with one value somewhere (at most six levels down) replaced by
    anything JSON can hold; the values of the keys in ``keep`` stay as they are."""
    doc = json.loads(json.dumps(draw(seeds)))
    node = doc
    for _ in range(draw(st.integers(0, 6))):
        if isinstance(node, dict) and node:
            key = draw(st.sampled_from(sorted(node)))
            if key in keep:
                break
            if draw(st.booleans()) or not isinstance(node[key], (dict, list)):
                node[key] = draw(json_values)
                break
            node = node[key]
        elif isinstance(node, list) and node:
            i = draw(st.integers(0, len(node) - 1))
            if draw(st.booleans()) or not isinstance(node[i], (dict, list)):
                node[i] = draw(json_values)
                break
            node = node[i]
    return doc

"""Flame graph data: stacks merged into a tree, laid out in preorder for the renderers.

The tree is serialised as three parallel arrays in depth-first preorder (children sorted by
name, as flamegraph.pl does): ``depth``, ``value`` (inclusive) and ``name`` (index into a
string table). A renderer recovers x positions and subtree extents with one pass and a stack,
so 100,000 stacks cost a few hundred kilobytes of JSON and no nested objects to parse.
For a differential graph a second value array (``base``) holds the base profile's values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from perflab.profile._model import Profile


@dataclass(slots=True)
class FlameTree:
    names: list[str] = field(default_factory=lambda: ["all"])
    name_ids: dict[str, int] = field(default_factory=lambda: {"all": 0})
    node_name: list[int] = field(default_factory=lambda: [0])
    values: list[list[int]] = field(default_factory=lambda: [[0, 0]])  # per node: [new, base]
    children: list[dict[int, int]] = field(default_factory=lambda: [{}])

    def add(self, stack_root_first: list[str], value: int, slot: int = 0) -> None:
        node = 0
        self.values[0][slot] += value
        names, name_ids = self.names, self.name_ids
        for fname in stack_root_first:
            nid = name_ids.get(fname)
            if nid is None:
                nid = name_ids[fname] = len(names)
                names.append(fname)
            kids = self.children[node]
            child = kids.get(nid)
            if child is None:
                child = kids[nid] = len(self.node_name)
                self.node_name.append(nid)
                self.values.append([0, 0])
                self.children.append({})
            self.values[child][slot] += value
            node = child

    def preorder(self) -> tuple[list[int], list[int], list[int], list[int]]:
        """(depth, value, base value, name id) per node, depth-first, children by name."""
        depth: list[int] = []
        value: list[int] = []
        base: list[int] = []
        name: list[int] = []
        names = self.names
        todo = [(0, 0)]
        while todo:
            node, d = todo.pop()
            depth.append(d)
            v = self.values[node]
            value.append(v[0])
            base.append(v[1])
            name.append(self.node_name[node])
            kids = self.children[node]
            if kids:
                ordered = sorted(kids.values(), key=lambda c: names[self.node_name[c]],
                                 reverse=True)
                todo.extend((c, d + 1) for c in ordered)
        return depth, value, base, name


def tree_of(prof: Profile, index: int, tree: FlameTree | None = None, slot: int = 0) -> FlameTree:
    tree = tree or FlameTree()
    names = [f.name for f in prof.frames]
    for s in prof.samples:
        v = s.values[index]
        if v > 0:
            tree.add([names[i] for i in reversed(s.stack)], v, slot)
    return tree

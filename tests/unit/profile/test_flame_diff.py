"""Flame tree layout data, the HTML/SVG renderers and the profile diff with --fail-on."""

from __future__ import annotations

import json
import re

import pytest
from tests._schemas import validate

from perflab.cli import main
from perflab.errors import InvalidValue
from perflab.profile import Frame, Profile, SampleType, write_profile
from perflab.profile._diff import parse_fail_on, share_changes
from perflab.profile._flame import tree_of
from perflab.profile._flame_render import render_html, render_svg


def prof(weights: dict[str, int]) -> Profile:
    """Stacks written root first with ";", e.g. "main;a;b"."""
    p = Profile(sample_types=[SampleType("samples", "count")])
    for stack, v in weights.items():
        p.add([Frame(n) for n in reversed(stack.split(";"))], [v])
    return p


def test_tree_merges_stacks_and_lists_preorder_children_by_name():
    tree = tree_of(prof({"main;b": 2, "main;a;x": 3, "main;a": 1, "other": 4}), 0)
    depth, value, _base, name = tree.preorder()
    names = [tree.names[i] for i in name]
    assert list(zip(names, depth, value, strict=True)) == [
        ("all", 0, 10), ("main", 1, 6), ("a", 2, 4), ("x", 3, 3), ("b", 2, 2), ("other", 1, 4)]


def test_html_embeds_data_safely_and_svg_has_frames():
    tree = tree_of(prof({"main;</script><b>": 1}), 0)
    page = render_html(tree, title="t<1>", unit="count")
    m = re.search(r'<script id="flame-data" type="application/json">(.*?)</script>', page,
                  re.DOTALL)
    assert m is not None
    assert json.loads(m.group(1))["names"][-1] == "</script><b>"
    assert "<title>t&lt;1&gt;</title>" in page
    svg = render_svg(tree, title="t", unit="count")
    assert "&lt;/script&gt;&lt;b&gt;" in svg


def test_share_changes_are_normalised_by_totals():
    base = prof({"main;a": 20, "main;b": 80})  # a: 20 %
    new = prof({"main;a": 15, "main;b": 35})   # a: 30 % of a smaller total
    changes = {c.name: c for c in share_changes(base, new, 0, 0)}
    assert changes["a"].flat_delta_pp == pytest.approx(10.0)
    assert changes["b"].flat_delta_pp == pytest.approx(-10.0)
    assert changes["main"].cum_delta_pp == pytest.approx(0.0)


def test_fail_on_rules():
    base = prof({"main;a": 20, "main;b": 80})
    new = prof({"main;a": 30, "main;b": 70})
    ch = share_changes(base, new, 0, 0)
    assert [c.name for c in parse_fail_on("growth>5pp").violations(ch)] == ["a"]
    assert parse_fail_on("growth>10pp").violations(ch) == []
    assert [c.name for c in parse_fail_on("shrinkage>5pp").violations(ch)] == ["b"]
    with pytest.raises(InvalidValue, match="invalid --fail-on"):
        parse_fail_on("growth>5%")


def test_diff_cli_exit_codes_table_and_json(tmp_path, capsys):
    base, new = tmp_path / "base.pb.gz", tmp_path / "new.pb.gz"
    write_profile(prof({"main;a": 20, "main;b": 80}), base)
    write_profile(prof({"main;a": 30, "main;b": 70}), new)
    assert main(["profile", "diff", str(base), str(new), "--fail-on", "growth>5pp"]) == 1
    captured = capsys.readouterr()
    assert "+10.00pp" in captured.out
    assert "growth>5pp: a" in captured.err
    assert main(["profile", "diff", str(base), str(new), "--fail-on", "growth>15pp",
                 "--json", "-o", str(tmp_path / "d.svg")]) == 0
    doc = json.loads(capsys.readouterr().out)
    validate(doc, "profile-diff")
    assert doc["functions"][0]["name"] == "a"
    assert doc["checks"] == [{"rule": "growth>15pp", "passed": True, "violations": []}]
    assert (tmp_path / "d.svg").read_text().startswith("<svg")
    assert main(["profile", "diff", str(base), str(new), "--fail-on", "bogus"]) == 2

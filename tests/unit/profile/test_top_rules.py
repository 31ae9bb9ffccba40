"""pprof's rules for top/peek on hand-made profiles, and its number formatting."""

from __future__ import annotations

import pytest

from perflab.errors import InvalidValue
from perflab.profile import Frame, Profile, SampleType, TopOptions, peek, top
from perflab.profile._measure import output_unit, percentage, scaled_label


def f(name: str) -> Frame:
    return Frame(name)


def prof() -> Profile:
    p = Profile(sample_types=[SampleType("cpu", "nanoseconds")])
    p.add([f("a"), f("main")], [600_000_000])
    p.add([f("rec"), f("rec"), f("rec"), f("main")], [300_000_000])
    p.add([f("tiny"), f("main")], [4_000_000])  # below 0.5 %: dropped by nodefraction
    p.add([f("b"), f("a"), f("main")], [96_000_000])
    return p


def rows(rep):
    return [(r.name, r.flat_text, r.flat_pct, r.sum_pct, r.cum_text, r.cum_pct) for r in rep.rows]


def test_flat_goes_to_leaf_and_recursion_counts_once_in_cum():
    rep = top(prof())
    assert rows(rep) == [
        ("a", "600ms", "60.00%", "60.00%", "696ms", "69.60%"),
        ("rec", "300ms", "30.00%", "90.00%", "300ms", "30.00%"),
        ("b", "96ms", " 9.60%", "99.60%", "96ms", " 9.60%"),
        ("main", "0", "    0%", "99.60%", "1000ms", "  100%"),
    ]
    assert rep.dropped_nodes == 1
    assert "Dropped 1 node (cum <= 5ms)" in rep.labels


def test_cum_sort_and_focus_keeps_percentages_of_whole_profile():
    rep = top(prof(), TopOptions(cum=True, focus="^b$"))
    assert [r.name for r in rep.rows] == ["a", "b", "main"]
    assert rep.rows[1].flat_pct == " 9.60%"  # 96 of the unfiltered 1000


def test_ignore_and_hide():
    assert "a" not in [r.name for r in top(prof(), TopOptions(ignore="^a$")).rows]
    hidden = top(prof(), TopOptions(hide="^a$"))
    main = next(r for r in hidden.rows if r.name == "main")
    assert main.flat == 600_000_000  # a's samples now end in main


def test_nodefraction_zero_keeps_everything_and_bad_regex_is_usage_error():
    assert "tiny" in [r.name for r in top(prof(), TopOptions(node_fraction=0)).rows]
    with pytest.raises(InvalidValue):
        top(prof(), TopOptions(focus="("))


def test_peek_lists_callers_and_callees():
    rep = peek(prof(), "^a$")
    (entry,) = rep.entries
    assert [c.name for c in entry.callers] == ["main"]
    assert [(c.name, c.text) for c in entry.callees] == [("b", "96ms")]
    with pytest.raises(InvalidValue, match="no matches"):
        peek(prof(), "nothing-matches")


def test_sample_index_by_name_number_and_inuse_alias():
    p = Profile(sample_types=[SampleType("objects", "count"), SampleType("space", "bytes")])
    assert p.sample_index(None) == 1
    assert p.sample_index("0") == 0
    assert p.sample_index("inuse_objects") == 0
    with pytest.raises(InvalidValue):
        p.sample_index("7")


@pytest.mark.parametrize(("value", "unit", "to", "text"), [
    (1_320_000_000, "nanoseconds", "ms", "1320ms"),
    (1_320_000_000, "nanoseconds", "auto", "1.32s"),
    (0, "nanoseconds", "ms", "0"),
    (2048, "bytes", "auto", "2kB"),
    (1536, "bytes", "kB", "1.50kB"),
    (16089, "count", "count", "16089"),
])
def test_scaled_label(value, unit, to, text):
    assert scaled_label(value, unit, to) == text


@pytest.mark.parametrize(("value", "total", "text"), [
    (1, 1, "  100%"), (9995, 10000, "  100%"), (5, 10, "50.00%"), (43, 16150, " 0.27%"),
    (1, 100000, "0.001%"), (0, 10, "    0%"),
])
def test_percentage(value, total, text):
    assert percentage(value, total) == text


def test_output_unit_prefers_unit_of_smallest_unless_spread_is_wide():
    assert output_unit(40_000_000, 1_320_000_000, "nanoseconds") == "ms"
    # 100 x 10ms < 1.32s: the table switches to seconds and shows 0.01s
    assert output_unit(10_000_000, 1_320_000_000, "nanoseconds") == "s"
    assert output_unit(500_000_000, 1_320_000_000, "nanoseconds") == "ms"
    assert output_unit(5, 16150, "count") == "count"

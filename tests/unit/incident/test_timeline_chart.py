"""The Incident page's timeline chart: lanes by kind (a chaos fault is a ``fault``, an action
goes with the notes), bars for what lasted, the opening and closing as rules, positions within
the padded width, the axis labels of the ends giving way to the opening's when close."""

from __future__ import annotations

from perflab.incident._timeline import Moment
from perflab.incident._timeline_chart import relative, timeline_chart
from perflab.store import CHAOS_FAULT_EVENT

S = 10**9
T0 = 1_700_000_000 * S  # 22:13:20 UTC


def test_no_moment_no_chart():
    assert timeline_chart([], T0) is None


def test_lanes_bars_rules_and_ticks():
    moments = [Moment(T0 - 100 * S, T0 - 50 * S, CHAOS_FAULT_EVENT, "latency", "/runs/4"),
               Moment(T0 - 90 * S, None, "deploy", "deploy api v2", "/runs/5"),
               Moment(T0, None, "opened", "incident opened: x"),
               Moment(T0 + 1 * S, None, "action", "rolled back"),
               Moment(T0 + 100 * S, None, "closed", "incident closed")]
    chart = timeline_chart(moments, T0)
    assert chart is not None
    lanes = {lane.name: lane.marks for lane in chart.lanes}
    assert set(lanes) == {"fault", "deploy", "note"}  # lanes without a mark are left out
    [fault] = lanes["fault"]
    assert (fault.kind, fault.left, fault.width, fault.link) == ("fault", 3.0, 23.5, "/runs/4")
    assert fault.title == "22:11:40 (-1m40s) fault: latency (for 50.0s)"
    assert lanes["note"][0].kind == "action"
    assert [(r.kind, r.left) for r in chart.rules] == [("opened", 50.0), ("closed", 97.0)]
    assert chart.ticks == [(3.0, "22:11:40"), (50.0, "opened 22:13:20"), (97.0, "22:15:00")]


def test_an_end_label_gives_way_to_the_opening():
    moments = [Moment(T0 - 100 * S, None, "alert", "firing"),
               Moment(T0, None, "opened", "incident opened: x"),
               Moment(T0 + 2 * S, None, "finding", "CPU saturated")]
    chart = timeline_chart(moments, T0)
    assert chart is not None
    assert [text for _, text in chart.ticks] == ["22:11:40", "opened 22:13:20"]


def test_relative_times():
    assert relative(T0 - 301 * S, T0) == "-5m01s"
    assert relative(T0 + 3 * S, T0) == "+3.00s"
    assert relative(T0, T0) == "+0s"

"""The report's bench section: values with their CI, the comparison with the previous commit,
the change points of the history; nothing of it for other runs."""

from __future__ import annotations

import html as htmllib
import re

import pytest

from _benchdata import REGRESSION_AT, build
from perflab.bench import Result, ResultSet, Value, record_results
from perflab.report import render_report
from perflab.store import Store


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    return build(tmp_path_factory.mktemp("bench") / "perflab.db")


def rows(page: str, table_id: str) -> list[list[str]]:
    body = page.split(f'<table id="{table_id}">', 1)[1].split("</table>", 1)[0]
    out = []
    for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.DOTALL)[1:]:
        cells = re.findall(r"<td[^>]*>(.*?)</td>", tr, re.DOTALL)
        out.append([htmllib.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in cells])
    return out


def test_the_run_that_regressed_shows_it_three_ways(bench):
    with Store.open(bench.path) as store:
        page = render_report(store, bench.run_ids[REGRESSION_AT])
    assert 'id="section-bench"' in page
    values = {(r[0], r[1]): r for r in rows(page, "bench-values")}
    enc = values["Encode/format=json-8", "sec/op"]
    assert enc[2] == "10"
    assert enc[3].endswith("µs/op")
    assert enc[3].startswith("1.29")
    assert enc[4] == "± 1%"
    # sec/op first, then B/op
    assert [r[1] for r in rows(page, "bench-values")][:3] == ["sec/op"] * 3
    compare = {(r[0], r[1]): r for r in rows(page, "bench-compare")}
    enc = compare["Encode/format=json-8", "sec/op"]
    assert enc[4].startswith("+")
    assert enc[4].endswith("%")
    assert float(enc[4].rstrip("%")) == pytest.approx(30, abs=2)
    assert (enc[5], enc[6], enc[7]) == ("0.000", "10", "regression")
    assert compare["Flat-8", "sec/op"][4] == "~"
    assert compare["Flat-8", "sec/op"][7] == "unchanged"
    assert f"Baseline: run {bench.run_ids[REGRESSION_AT - 1]}" in page
    assert "vs base" in page  # benchstat's own table, in a <details>
    changes = rows(page, "bench-changes")
    regression = next(r for r in changes if r[0] == "Encode/format=json-8")
    assert regression[2] == "regression"
    assert regression[-1] == "at this run"
    improvement = next(r for r in changes if r[0] == "Decode-8")
    assert (improvement[2], improvement[-1]) == ("improvement", "")
    # the history charts' data, and no time-series charts of the values
    assert '<script id="bench-history" type="application/json">' in page
    assert 'id="section-charts"' not in page
    assert 'id="section-summary"' not in page


def test_the_first_run_has_nothing_to_compare_with(bench):
    with Store.open(bench.path) as store:
        page = render_report(store, bench.run_ids[0])
    assert 'id="bench-no-previous"' in page
    assert '<table id="bench-compare">' not in page
    assert '<table id="bench-values">' in page


def test_a_single_recorded_run_says_change_points_need_more_commits(store):
    rs = ResultSet(results=[Result("A", (Value(1.0, "sec/op"),) * 5, "x")])
    run_id, _ = record_results(store, rs, commit="abc")
    page = render_report(store, run_id)
    assert "fewer than 3 commits" in page


def test_benchmarks_on_one_side_only_are_shown_as_missing(store):
    for i, names in enumerate((["A", "B"], ["A", "C"])):
        rs = ResultSet(results=[Result(n, (Value(1.0 + i, "sec/op"),) * 5, "x") for n in names])
        last, _ = record_results(store, rs, commit=f"c{i}", time_ns=(i + 1) * 10**18)
    compare = {r[0]: r for r in rows(render_report(store, last), "bench-compare")}
    assert compare["B"][7] == "missing"
    assert compare["C"][7] == "missing"
    assert compare["A"][7] == "regression"


def test_other_runs_have_no_bench_section(store):
    run = store.create_run("record", "plain")
    store.finish_run(run.id, "ok")
    assert 'id="section-bench"' not in render_report(store, run.id)

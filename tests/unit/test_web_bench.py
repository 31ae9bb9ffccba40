"""The Benchmarks page and its API over a bench history with known change points."""

from __future__ import annotations

import pytest
from _webclient import hub_client
from tests._schemas import validate

from _benchdata import IMPROVEMENT_AT, N_COMMITS, REGRESSION_AT, build
from perflab.bench import Result, ResultSet, Value, record_results
from perflab.store import Store


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    return build(tmp_path_factory.mktemp("bench") / "perflab.db")


@pytest.fixture
def client(bench):
    with hub_client(bench.path, rollups=False) as c:
        yield c


def test_list_has_every_benchmark_and_unit_with_its_status(client, bench):
    doc = client.get("/api/benchmarks").json()
    validate(doc, "api-benchmarks")
    rows = {(b["name"], b["unit"]): b for b in doc["benchmarks"]}
    assert set(rows) == {(n, u) for n in ("Encode/format=json-8", "Decode-8", "Flat-8")
                         for u in ("sec/op", "B/op")}
    assert doc["branches"] == ["main"]
    enc = rows["Encode/format=json-8", "sec/op"]
    assert enc["status"] == "regression"
    assert enc["commits"] == N_COMMITS
    assert enc["last"]["commit"] == bench.commits[-1]
    (change,) = enc["changes"]
    assert change["index"] == REGRESSION_AT
    assert (change["from_commit"], change["to_commit"]) == (bench.commits[REGRESSION_AT - 1],
                                                            bench.commits[REGRESSION_AT])
    assert change["rel_change"] == pytest.approx(0.3, abs=0.01)
    assert change["pvalue"] < 0.001
    dec = rows["Decode-8", "sec/op"]
    assert dec["status"] == "improvement"
    assert [c["index"] for c in dec["changes"]] == [IMPROVEMENT_AT]
    assert dec["changes"][0]["rel_change"] == pytest.approx(-0.25, abs=0.01)
    assert rows["Flat-8", "sec/op"]["status"] == "steady"
    assert rows["Flat-8", "B/op"]["changes"] == []


def test_list_filters_by_name_case_insensitively_and_by_branch(client):
    doc = client.get("/api/benchmarks?q=ENCODE").json()
    assert {b["name"] for b in doc["benchmarks"]} == {"Encode/format=json-8"}
    assert client.get("/api/benchmarks?q=nothing-like-it").json()["benchmarks"] == []
    assert client.get("/api/benchmarks?branch=other").json()["benchmarks"] == []
    assert len(client.get("/api/benchmarks?branch=main").json()["benchmarks"]) == 6


def test_one_benchmark_has_every_commit_in_order(client, bench):
    doc = client.get("/api/benchmarks/Encode/format=json-8?unit=sec/op").json()
    validate(doc, "api-benchmark")
    (hist,) = doc["histories"]
    assert [p["commit"] for p in hist["points"]] == bench.commits
    assert [p["run_id"] for p in hist["points"]] == bench.run_ids
    assert all(p["n"] == 10 and p["lo"] <= p["median"] <= p["hi"] for p in hist["points"])
    assert hist["points"][0]["median"] == pytest.approx(1.0e-6, rel=0.01)
    assert hist["points"][-1]["median"] == pytest.approx(1.3e-6, rel=0.01)
    assert [c["index"] for c in hist["changes"]] == [REGRESSION_AT]
    both = client.get("/api/benchmarks/Encode/format=json-8").json()
    assert [h["unit"] for h in both["histories"]] == ["sec/op", "B/op"]


def test_unknown_benchmark_unit_or_branch_is_a_404_in_json(client):
    for path, message in [
        ("/api/benchmarks/Nope-8", "no benchmark 'Nope-8' in the history"),
        ("/api/benchmarks/Decode-8?unit=ns/op", "benchmark 'Decode-8' has no unit 'ns/op'"),
        ("/api/benchmarks/Decode-8?branch=dev", ("no benchmark 'Decode-8' in the history on "
                                                "branch 'dev'")),
    ]:
        r = client.get(path)
        assert r.status_code == 404, path
        doc = r.json()
        validate(doc, "api-error")
        assert doc["error"] == message


def test_a_query_too_long_is_a_400(client):
    r = client.get("/api/benchmarks?q=" + "x" * 201)
    assert r.status_code == 400
    assert "q must be at most 200 characters" in r.json()["error"]


def test_the_cache_sees_a_new_record(client, bench, tmp_path):
    before = client.get("/api/benchmarks?q=Flat").json()["benchmarks"][0]["commits"]
    copy = tmp_path / "copy.db"
    with Store.open(bench.path) as src:
        src.conn.execute(f"VACUUM INTO '{copy}'")
    with hub_client(copy, rollups=False) as c:
        assert c.get("/api/benchmarks?q=Flat").json()["benchmarks"][0]["commits"] == before
        rs = ResultSet(results=[Result("Flat-8", (Value(5e-6, "sec/op"),), "x")])
        with Store.open(copy) as store:
            record_results(store, rs, commit="f" * 40, branch="main",
                           time_ns=2_000_000_000 * 10**9)
        after = c.get("/api/benchmarks?q=Flat").json()["benchmarks"]
        assert after[0]["commits"] == before + 1
        assert after[0]["last"]["commit"] == "f" * 40


def test_few_commits_are_short_not_steady(tmp_path):
    path = tmp_path / "s.db"
    with Store.open(path) as store:
        for i in range(2):
            rs = ResultSet(results=[Result("A", (Value(1.0 + i, "sec/op"),) * 3, "x")])
            record_results(store, rs, commit=f"c{i}", time_ns=(i + 1) * 10**18)
    with hub_client(path, rollups=False) as c:
        (b,) = c.get("/api/benchmarks").json()["benchmarks"]
        assert b["status"] == "short"
        assert b["notes"] == ["only 2 commit(s) recorded; change points need at least 3"]
        assert b["delta_pct"] == pytest.approx(100.0)


def test_page_lists_the_benchmarks_and_links_their_charts(client):
    r = client.get("/benchmarks")
    assert r.status_code == 200
    html = r.text
    assert '<a href="/benchmarks" class="active">Benchmarks</a>' in html
    assert html.count('<tr data-name="') == 6
    assert 'data-name="Encode/format=json-8" data-unit="sec/op" data-status="regression"' in html
    assert html.count('class="chart bench-chart"') == 6
    assert "1 with a regression" in html
    assert "1 improved" in html
    narrowed = client.get("/benchmarks?q=decode").text
    assert narrowed.count('<tr data-name="') == 2
    assert "2 of 6 benchmark histories" in narrowed


def test_page_of_an_empty_store_explains_how_to_record(store_path):
    with Store.open(store_path):
        pass
    with hub_client(store_path, rollups=False) as c:
        r = c.get("/benchmarks")
    assert r.status_code == 200
    assert "No benchmark history yet" in r.text
    assert "perflab bench record FILE --commit SHA" in r.text


def test_a_bench_runs_page_points_at_its_report_and_the_benchmarks_page(client, bench):
    html = client.get(f"/runs/{bench.run_ids[0]}").text
    assert 'id="bench-run-note"' in html
    assert '<a href="/benchmarks?branch=main">Benchmarks</a>' in html
    assert f'href="/runs/{bench.run_ids[0]}/report"' in html


def test_a_run_still_being_recorded_is_read_again_once_finished(tmp_path):
    path = tmp_path / "s.db"
    with hub_client(path, rollups=False) as c, Store.open(path) as store:
        run = store.create_run("bench", "bench c0", started_ns=10**18,
                               meta={"commit": "c0", "branch": ""})
        assert c.get("/api/benchmarks").json()["benchmarks"] == []  # no samples yet
        sid = store.series_id(run.id, "bench.value", {"bench": "A", "unit": "sec/op"}, "sec/op")
        store.insert_samples([(sid, 10**18 + i, 1.0) for i in range(3)])
        store.finish_run(run.id, "ok", ended_ns=10**18)  # ends in the past: a backfill
        (b,) = c.get("/api/benchmarks").json()["benchmarks"]
        assert (b["name"], b["last"]["n"]) == ("A", 3)

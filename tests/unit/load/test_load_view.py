"""A stored load test read back: GET /api/runs/{id}/load, the report's load section and the Run
page's, over runs written by the real LoadRecorder (no network: the results are built here)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from tests._schemas import validate

from perflab.load import Histogram, LoadConfig, LoadRecorder, LoadResult, load_view, parse_target
from perflab.load._result import Interval
from perflab.load._thresholds import evaluate, parse_threshold
from perflab.report import render_report
from perflab.store import Store
from perflab.web import AppConfig, create_app

T0 = 1_700_000_000 * 10**9


def _client(path: Path):
    from tests.unit._webclient import client_class  # noqa: PLC0415

    return client_class()(create_app(AppConfig(store_path=path, record=False)))


def _hist(values_us: list[int] | np.ndarray) -> Histogram:
    h = Histogram()
    h.record_many(np.asarray(values_us, dtype=np.int64))
    return h


def record_test(store: Store, latencies_us: np.ndarray, *, service_us: np.ndarray | None = None,
                into_run: int | None = None, labels: dict[str, str] | None = None,
                thresholds: tuple[str, ...] = (), codes: dict[int, int] | None = None,
                errors: dict[str, int] | None = None, late: int = 0,
                start_ns: int = T0) -> int:
    """One test through LoadRecorder, one second long; returns the run id."""
    rate = 1000.0 if service_us is not None else None
    cfg = LoadConfig(parse_target("http://127.0.0.1:9/", resolve=False), rate=rate,
                     duration_s=1.0)
    rec = LoadRecorder(store, cfg, "t", into_run=into_run, labels=labels)
    rec.started(start_ns)
    lat = _hist(latencies_us)
    svc = None if service_us is None else _hist(service_us)
    code_counts = Counter(codes or {200: len(latencies_us)})
    err_counts = Counter(errors or {})
    rec.interval(Interval(1, 1.0, lat.total, code_counts, err_counts, lat, svc, 4, late))
    result = LoadResult(cfg, start_ns, 1.0, "ok", lat, svc, code_counts, err_counts,
                        late=late, dropped=late)
    result.thresholds = evaluate([parse_threshold(t) for t in thresholds], result)
    rec.finish(result)
    return rec.run.id


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def test_a_load_run_reads_back_with_its_percentiles_spectrum_and_histogram(store, rng):
    lat = rng.integers(500, 200_000, 5000)
    svc = lat // 2
    run_id = record_test(store, lat, service_us=svc, thresholds=("p99<50ms", "error_rate<1%"),
                         late=12)
    view = load_view(store, store.run(run_id))
    assert view is not None
    validate(view, "api-load")
    (g,) = view["groups"]
    assert g["labels"] == {}
    assert g["requests"] == 5000
    assert g["dropped"] == 12
    h = _hist(lat)
    assert g["latency_ms"]["p99"] == pytest.approx(h.value_at_percentile(99) / 1000, abs=1e-3)
    assert g["latency_ms"]["max"] == pytest.approx(int(lat.max()) / 1000, abs=1e-3)
    service = g["service_time_ms"]
    assert service is not None
    assert service["p50"] == pytest.approx(_hist(svc).value_at_percentile(50) / 1000, abs=1e-3)
    # the spectrum: x = 1/(1-p), ascending, values never decreasing, last below 100 %
    spec = g["spectrum"]["latency"]
    p = np.array(spec["percentile"]) / 100
    assert np.allclose(spec["x"], 1 / (1 - p))
    assert spec["percentile"][0] == 0
    assert max(spec["percentile"]) < 100
    assert spec["ms"] == sorted(spec["ms"])
    assert spec["x"][-1] >= 500  # 5000 values: the ladder reaches past 99.8 %
    # every request is in exactly one bar
    assert sum(g["histogram"]["count"]) == 5000
    assert g["histogram"]["lower_ms"][0] == pytest.approx(lat.min() / 1000, rel=1e-3)
    # thresholds as evaluated when the test ended
    by_text = {t["threshold"]: t["passed"] for t in g["thresholds"]}
    assert by_text == {"p99<50ms": False, "error_rate<1%": True}


def test_tests_recorded_into_one_run_group_by_labels_and_merge_exactly(store, rng):
    host = store.create_run("demo", "demo").id
    work_a = rng.integers(1000, 3000, 400)
    work_b = rng.integers(20_000, 90_000, 300)
    cache = rng.integers(100, 900, 200)
    record_test(store, work_a, into_run=host, labels={"endpoint": "/work"},
                thresholds=("p99<10ms",))
    record_test(store, work_b, into_run=host, labels={"endpoint": "/work"},
                thresholds=("p99<10ms",), errors={"timeout": 3}, start_ns=T0 + 10**9)
    record_test(store, cache, into_run=host, labels={"endpoint": "/cache"})
    run = store.run(host)
    assert run.status == "running"  # the host run is not the tests' to end
    view = load_view(store, run)
    assert view is not None
    validate(view, "api-load")
    groups = {g["labels"]["endpoint"]: g for g in view["groups"]}
    assert set(groups) == {"/work", "/cache"}
    work = groups["/work"]
    assert work["tests"] == 2
    assert work["requests"] == 700
    assert work["errors"] == {"timeout": 3}
    merged = _hist(np.concatenate([work_a, work_b]))
    assert work["latency_ms"]["p90"] == pytest.approx(merged.value_at_percentile(90) / 1000,
                                                      abs=1e-3)
    assert [t["passed"] for t in work["thresholds"]] == [True, False]
    # the per-second series carry the labels too
    names = {(s.name, s.labels.get("endpoint")) for s in store.series(host)}
    assert ("load.rps", "/work") in names
    assert ("load.latency_ms", "/cache") in names


def test_a_run_without_load_tests_has_no_load_view(store):
    run = store.create_run("record", "r")
    assert load_view(store, run) is None


def test_api_answers_the_load_view_and_404_or_400_otherwise(store_path, rng):
    with Store.open(store_path) as store:
        load_id = record_test(store, rng.integers(100, 5000, 1000))
        other = store.create_run("record", "r").id
    with _client(store_path) as client:
        got = client.get(f"/api/runs/{load_id}/load")
        assert got.status_code == 200
        doc = got.json()
        assert doc["schema"] == "perflab.api.load/1"
        validate(doc, "api-load")
        assert doc["groups"][0]["requests"] == 1000
        missing = client.get(f"/api/runs/{other}/load")
        assert missing.status_code == 404
        assert missing.json()["error"] == f"run {other} has no load test"
        assert client.get("/api/runs/999/load").status_code == 404
        assert client.get("/api/runs/x/load").status_code == 400


def test_run_page_and_report_show_the_load_section_first(store_path, rng):
    with Store.open(store_path) as store:
        run_id = record_test(store, rng.integers(100, 5000, 1000), thresholds=("p99<1ms",))
        html = render_report(store, run_id)
    for page in (html, _client(store_path).get(f"/runs/{run_id}").text):
        assert 'id="load-summary"' in page
        assert 'id="load-spectrum"' in page
        assert 'id="load-histogram"' in page
        assert "p99&lt;1ms" in page
        assert "FAIL" in page
        # the load section comes before the generic charts
        assert page.index('id="load-summary"') < page.index('id="charts"')
    assert "Perflab.PALETTE" in html  # load.js is inlined into the report
    assert "/static/load.js" in _client(store_path).get(f"/runs/{run_id}").text


def test_pages_of_other_runs_have_no_load_section(store_path):
    with Store.open(store_path) as store:
        run_id = store.create_run("record", "r").id
        html = render_report(store, run_id)
    assert "load-summary" not in html
    assert "load.js" not in _client(store_path).get(f"/runs/{run_id}").text

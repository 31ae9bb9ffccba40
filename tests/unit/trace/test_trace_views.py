"""The documents every view shows: search semantics, trace documents, diffs, coverage, and the
command line's --json against docs/schemas."""

from __future__ import annotations

import json

import pytest
from _spandata import T0, demo_trace, span, write
from _tracehub import hub_client
from click.testing import CliRunner
from tests._schemas import validate

from perflab.cli import cli, main
from perflab.store import Store, delete_oldest_spans, span_stats
from perflab.trace import (
    TraceQuery,
    coverage_document,
    diff_document,
    find_traces,
    search_document,
    trace_document,
)
from perflab.trace._pages import SESSION_COOKIE
from perflab.trace._write import Retention, apply_retention
from perflab.web._auth import COOKIE


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "s.db") as st:
        for i in range(1, 41):
            write(st, demo_trace(i, start_ms=i * 100, slow_ms=150 if i % 20 == 0 else 0,
                                 error=i == 13))
        yield st


def _ids(traces):
    return [int.from_bytes(t.trace_id, "big") for t in traces]


def test_a_search_matches_one_span_on_every_condition(store):
    # duration and tag on the same span: the store spans of the slow traces
    q = TraceQuery(service="store", min_duration_ns=100 * 1_000_000, limit=10)
    assert _ids(find_traces(store, q)) == [40, 20]
    q = TraceQuery(service="frontend", tags={"http.response.status_code": "500"})
    assert _ids(find_traces(store, q)) == [13]
    q = TraceQuery(service="api", tags={"error": "true", "host.name": "lab"})
    assert _ids(find_traces(store, q)) == [13]  # a resource attribute matches too
    q = TraceQuery(service="api", tags={"error": "true", "host.name": "elsewhere"})
    assert find_traces(store, q) == []
    q = TraceQuery(start_ns=T0 + 3950 * 1_000_000, limit=100)
    assert _ids(find_traces(store, q)) == [40]


def test_duplicate_spans_are_stored_once(store):
    before = span_stats(store)[0]
    write(store, demo_trace(5, start_ms=500))
    assert span_stats(store)[0] == before


def test_trace_document_marks_the_critical_path_and_warns(store):
    doc = trace_document(store, (20).to_bytes(16, "big"))
    crit = {s["name"]: s["critical_ns"] for s in doc["spans"] if s["service"] == "store"}
    assert crit["SELECT items"] > 150 * 1_000_000  # the slow second store call
    total = sum(c["end_ns"] - c["start_ns"] for c in doc["critical_path"])
    assert total == doc["trace"]["duration_ns"]
    broken = [s for s in demo_trace(77) if s.name != "GET /items"]
    write(store, broken)
    doc = trace_document(store, (77).to_bytes(16, "big"))
    assert any("refer to a parent" in w for w in doc["warnings"])
    assert doc["trace"]["broken"] is True


def test_diff_of_two_traces_names_the_slow_operation(store):
    doc = diff_document(store, {"a": f"{1:x}", "b": f"{20:x}"}, TraceQuery())
    top = doc["operations"][0]
    assert (top["service"], top["operation"]) == ("store", "SELECT items")
    assert top["delta_ns"] == 150 * 1_000_000
    assert abs(sum(o["share"] or 0.0 for o in doc["operations"]) - 1.0) < 1e-9
    slow_rows = [r for r in doc["waterfall"] if r["b_duration_ns"] and r["a_duration_ns"]
                 and r["b_duration_ns"] > r["a_duration_ns"]]
    assert {r["service"] for r in slow_rows} >= {"store", "api", "frontend"}


def test_diff_of_groups_slowest_against_median(store):
    q = TraceQuery(service="frontend", operation="GET /", limit=1000)
    doc = diff_document(store, {"slowest_pct": "5"}, q)
    assert doc["b"]["traces"] == 2  # traces 20 and 40
    assert doc["operations"][0]["operation"] == "SELECT items"
    with pytest.raises(Exception, match="slowest_pct"):
        diff_document(store, {"slowest_pct": "90"}, q)


def test_coverage_counts_broken_traces_and_uninstrumented_calls(store):
    write(store, [span(900, 1, None, "frontend", "GET /pay", 5000, 50),
                  span(900, 2, 1, "frontend", "POST /charge", 5001, 40, kind=3,
                       attrs={"server.address": "payments.internal"}),
                  span(900, 3, 1, "frontend", "SELECT", 5002, 4, kind=3,
                       attrs={"db.system": "postgresql"})])
    write(store, [s for s in demo_trace(901, start_ms=6000) if s.name != "GET /items"])
    doc = coverage_document(store, T0, T0 + 10**12)
    assert doc["traces"] == 42
    assert doc["broken_count"] == 1
    assert doc["uninstrumented_calls"] == [{"service": "frontend", "operation": "POST /charge",
                                            "peer": "payments.internal", "calls": 1}]
    pay = next(o for o in doc["operations"] if o["operation"] == "GET /pay")
    assert pay["complete_pct"] == 100.0


def test_retention_by_age_and_by_size(tmp_path):
    with Store.open(tmp_path / "r.db") as st:
        for i in range(1, 11):
            write(st, demo_trace(i, start_ms=i * 60_000))
        now = T0 + 11 * 60_000 * 1_000_000
        with st.transaction():
            gone = apply_retention(st, Retention(max_age_ns=5 * 60 * 10**9), now_ns=now)
        assert gone == 5 * 7  # traces 1..5 (minute 1 to 5) are older than 5 minutes
        with st.transaction():
            delete_oldest_spans(st, keep=14)
        assert span_stats(st)[0] == 14
        left = search_document(st, TraceQuery(limit=100))["traces"]
        assert [t["spans"] for t in left] == [7, 7]  # the two newest traces, whole


@pytest.mark.parametrize(("args", "schema"), [
    (["ls", "--since", "2000-01-01", "--limit", "5"], "trace-ls"),
    (["show", f"{20:x}"], "trace-show"),
    (["critical-path", f"{20:x}"], "trace-critical-path"),
    (["diff", f"{1:x}", f"{20:x}"], "trace-diff"),
    (["diff", "--service", "frontend", "--operation", "GET /", "--slowest",
      "--slowest-pct", "5", "--since", "2000-01-01"], "trace-diff"),
    (["coverage", "--since", "2000-01-01"], "trace-coverage"),
])
def test_cli_json_matches_its_schema(store, args, schema):
    result = CliRunner().invoke(cli, ["trace", *args, "--store", str(store.path), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["schema"] == f"perflab.{schema}/1"
    validate(doc, schema)


def test_cli_errors_are_one_line_with_a_hint(store):
    assert main(["trace", "show", "zz", "--store", str(store.path)]) == 2
    assert main(["trace", "show", "ffff", "--store", str(store.path)]) == 2
    assert main(["trace", "diff", "--store", str(store.path)]) == 2


@pytest.mark.parametrize(("url", "schema"), [
    ("/api/trace/search?start=2000-01-01&service=api", "api-trace_search"),
    (f"/api/trace/traces/{20:x}", "api-trace"),
    (f"/api/trace/diff?a={1:x}&b={20:x}", "api-trace_diff"),
    ("/api/trace/services?start=2000-01-01", "api-trace_services"),
    ("/api/trace/stats", "api-trace_stats"),
])
def test_api_documents_match_their_schemas(store, url, schema):
    with hub_client(store.path) as c:
        r = c.get(url)
        assert r.status_code == 200, r.text
        validate(r.json(), schema)


def test_pages_answer_and_refuse_bad_parameters(store):
    with hub_client(store.path) as c:
        assert c.get("/traces?start=2000-01-01").status_code == 200
        assert c.get(f"/traces/{20:x}").status_code == 200
        assert c.get("/traces/zz").status_code == 400
        assert c.get(f"/traces/{'e' * 32}").status_code == 404
        assert c.get("/traces?minDuration=soon").status_code == 400
        assert c.get("/services").status_code == 200
        assert c.get(f"/traces/compare?a={1:x}&b={20:x}").status_code == 200
        assert c.get("/traces/compare?a=1").status_code == 400


def test_the_pages_know_the_hubs_session_cookie():
    assert SESSION_COOKIE == COOKIE

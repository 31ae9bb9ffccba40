"""perflab load import and coverage: recorded traffic (access logs, HAR, JMeter plans, stored
spans) made into scenario files that load and exercise the same endpoints, and coverage of
production traffic by a scenario. The fixtures are ours; the nginx log of a real run is in
tests/integration/load/test_import_nginx.py."""

from __future__ import annotations

import contextlib
import gzip
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests._schemas import validate

from perflab.errors import InvalidFile, NotFound
from perflab.load import (
    Schedule,
    coverage_document,
    import_document,
    parse_stages,
    read_traces,
    read_traffic,
    render_scenario,
    scenario_endpoints,
)
from perflab.load._import_log import MAX_LINE
from perflab.load._import_model import endpoint_matches, mix, path_template
from perflab.load._import_write import replay_stages
from perflab.load._scenario import load_scenario_file
from perflab.store import Store
from perflab.trace import Process, Span, SpanSink

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "load_import"
UUID = "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d"
COMBINED = ('127.0.0.1 - - [03/Dec/2026:10:00:{s:02d} +0000] "{m} {p} HTTP/1.1" {st} {b} "-" '
            '"curl/8.5.0"\n')
COMMON = '10.0.0.1 - frank [03/Dec/2026:10:00:{s:02d} +0000] "{m} {p} HTTP/1.0" {st} {b}\n'


def _log(tmp_path: Path, rows: list[tuple[int, str, str]], fmt: str = COMBINED) -> Path:
    path = tmp_path / "access.log"
    path.write_text("".join(fmt.format(s=s, m=m, p=p, st=200, b=512) for s, m, p in rows))
    return path


def _perflab(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "perflab", *map(str, args)],
                          capture_output=True, text=True, timeout=120, check=False, cwd=cwd)


def test_path_templates_collapse_ids_uuids_and_jmeter_variables():
    assert path_template("/users/17/orders/" + UUID + "?x=1") == "/users/{id}/orders/{uuid}"
    assert path_template("/blobs/3f786850e387550fdab836ed7e6dc881de23001b") == "/blobs/{id}"
    assert path_template("/api/v2/items") == "/api/v2/items"  # v2 is not an id
    assert path_template("/users/${id}") == "/users/{id}"
    assert path_template("") == "/"
    assert endpoint_matches("GET /users/{user_id}", "GET /users/{id}")
    assert not endpoint_matches("POST /users/{id}", "GET /users/{id}")
    assert not endpoint_matches("GET /users/{id}/x", "GET /users/{id}")


def test_combined_log_mix_rate_and_a_scenario_that_requests_the_same_endpoints(tmp_path):
    rows = [(s, "GET", f"/users/{s}") for s in range(6)]  # 6 requests of one endpoint
    rows += [(s, "POST", f"/orders/{UUID}/pay") for s in range(3)]
    rows += [(9, "GET", "/health")]
    log = _log(tmp_path, rows)
    traffic = read_traffic(str(log))
    assert traffic.format == "combined"
    assert traffic.arrival_rate() == pytest.approx(10 / 10)  # 10 requests in 00..09 s
    endpoints = {e.endpoint: e.requests for e in mix(traffic.requests)}
    assert endpoints == {"GET /users/{id}": 6, "POST /orders/{uuid}/pay": 3, "GET /health": 1}
    out = tmp_path / "scenario.py"
    out.write_text(render_scenario(traffic))
    spec = load_scenario_file(str(out))
    (sc,) = spec.scenarios
    assert sc.rate_per_s == pytest.approx(1.0)
    assert {t.name: t.weight for t in sc.tasks} == endpoints
    found, notes = scenario_endpoints(str(out))
    assert set(found) == set(endpoints)
    assert notes == []


def test_secrets_in_queries_do_not_go_into_the_file(tmp_path):
    log = _log(tmp_path, [(0, "GET", "/a?page=2&access_token=s3cret"), (1, "GET", "/a?x=1")])
    traffic = read_traffic(str(log))
    for replay in (False, True):
        text = render_scenario(traffic, replay=replay)
        assert "s3cret" not in text
        assert "/a?page=2&access_token=***" in text
        assert "named like secrets" in text


def test_the_long_tail_of_endpoints_is_listed_not_written(tmp_path):
    rows = [(0, "GET", "/popular")] * 50 + [(1, "GET", f"/posts/post-{i}") for i in range(210)]
    traffic = read_traffic(str(_log(tmp_path, rows)))
    out = tmp_path / "s.py"
    out.write_text(render_scenario(traffic))
    (sc,) = load_scenario_file(str(out)).scenarios
    assert len(sc.tasks) == 200
    assert sc.tasks[0].name == "GET /popular"
    doc = import_document(traffic, output=str(out), replay=False)
    (tail,) = doc["unmapped"]
    assert tail["reason"].startswith("11 rarest endpoints (4.23 % of the requests)")
    assert "11 rarest endpoints" in out.read_text()


def test_common_log_is_detected_and_response_sizes_kept(tmp_path):
    log = _log(tmp_path, [(0, "GET", "/a"), (1, "GET", "/a")], fmt=COMMON)
    traffic = read_traffic(str(log))
    assert traffic.format == "common"
    (a,) = mix(traffic.requests)
    assert a.response_bytes_mean == 512


@pytest.mark.parametrize(("line", "why"), [
    ("hello world\n", "does not start with host, ident and user"),
    ("1.2.3.4 - - 03/Dec/2026 GET\n", "no [time]"),
    ("1.2.3.4 - - [03/Dec/2026:10:00:00 +0000] GET / 200 5\n", 'no quoted "request"'),
    ('1.2.3.4 - - [03/Dec/2026:10:00:00 +0000] "GET / HTTP/1.1" OK 5\n', "not 3 digits"),
    ('1.2.3.4 - - [03/Dec/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 five\n', "size"),
])
def test_a_line_out_of_format_is_named_with_its_number_and_why(tmp_path, line, why):
    log = _log(tmp_path, [(0, "GET", "/")])
    log.write_text(log.read_text() + line)
    with pytest.raises(InvalidFile, match=rf"access.log:2: .*{re.escape(why)}"):
        read_traffic(str(log))
    first = tmp_path / "first.log"
    first.write_text(line)
    with pytest.raises(InvalidFile, match=r"first.log:1: neither the combined nor the common"):
        read_traffic(str(first))


def test_a_forced_format_names_the_mismatch(tmp_path):
    log = _log(tmp_path, [(0, "GET", "/")])
    with pytest.raises(InvalidFile, match=r":1: .*common format: more fields follow"):
        read_traffic(str(log), "common")
    common = _log(tmp_path, [(0, "GET", "/")], fmt=COMMON)
    with pytest.raises(InvalidFile, match=r'no quoted "referer"'):
        read_traffic(str(common), "combined")


def test_cli_bad_log_one_line_error_exit_2_no_traceback(tmp_path):
    log = tmp_path / "bad.log"
    log.write_text("GET / 200\n")
    r = _perflab("load", "import", log, "-o", tmp_path / "s.py")
    assert r.returncode == 2
    assert r.stderr.startswith(f"perflab: error: {log}:1: neither the combined nor the common")
    assert "hint:" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "s.py").exists()


def test_a_rotated_gzip_log_is_read_and_a_huge_line_refused(tmp_path):
    log = _log(tmp_path, [(0, "GET", "/a"), (1, "GET", "/b/7")])
    gz = tmp_path / "access.log.2.gz"
    gz.write_bytes(gzip.compress(log.read_bytes()))
    assert {e.endpoint for e in mix(read_traffic(str(gz)).requests)} == {"GET /a",
                                                                         "GET /b/{id}"}
    gz.write_bytes(gzip.compress(log.read_bytes())[:-12])  # cut short
    with pytest.raises(InvalidFile, match="cannot read"):
        read_traffic(str(gz))
    log.write_text(log.read_text() + "x" * (2 * MAX_LINE) + "\n")
    with pytest.raises(InvalidFile, match=r"access.log:3: the line is longer than 64 KiB"):
        read_traffic(str(log))


def test_non_http_lines_are_listed_not_dropped(tmp_path):
    log = _log(tmp_path, [(0, "GET", "/a")])
    with log.open("a") as fh:  # what nginx logs when TLS is spoken to its plain port
        fh.write('127.0.0.1 - - [03/Dec/2026:10:00:01 +0000] "\\x16\\x03\\x01\\x02" 400 157 '
                 '"-" "-"\n')
    traffic = read_traffic(str(log))
    assert len(traffic.requests) == 1
    (u,) = traffic.unmapped
    assert u.where == "line 2"
    assert "not an HTTP request line" in u.reason


def test_replay_follows_the_recorded_rate_second_by_second(tmp_path):
    counts = [5, 0, 2, 8]
    rows = [(s, "GET", f"/items/{i}") for s, n in enumerate(counts) for i in range(n)]
    traffic = read_traffic(str(_log(tmp_path, rows)))
    steps, first = replay_stages(traffic)
    assert steps == [(1.0, 5.0), (1.0, 0.0), (1.0, 2.0), (1.0, 8.0)]  # (seconds, requests/s)
    assert first == 5.0
    out = tmp_path / "replay.py"
    out.write_text(render_scenario(traffic, replay=True))
    (sc,) = load_scenario_file(str(out)).scenarios
    schedule = Schedule(parse_stages(sc.stages or ""), start_rate=sc.rate_per_s or 0.0)
    starts = [schedule.time_of(i) for i in range(schedule.total)]
    per_second = Counter(int(t) for t in starts)
    assert [per_second.get(s, 0) for s in range(4)] == pytest.approx(counts, abs=1)
    assert schedule.total == sum(counts)
    # the requests in their recorded order
    recorded = sc.tasks[0].fn.__globals__["RECORDED"]
    assert [recorded.next()["path"] for _ in range(3)] == ["/items/0", "/items/1", "/items/2"]


def test_har_entries_of_the_main_origin_with_bodies(tmp_path):
    traffic = read_traffic(str(FIXTURES / "shop.har"))
    assert traffic.source == "har"
    assert traffic.base_url == "http://127.0.0.1:8080"
    endpoints = {e.endpoint: e for e in mix(traffic.requests)}
    assert set(endpoints) == {"GET /", "GET /api/items", "POST /api/cart/{id}"}
    post = endpoints["POST /api/cart/{id}"]
    assert post.sample.body == b'{"item": 3, "qty": 1}'
    reasons = {u.where: u.reason for u in traffic.unmapped}
    assert "1 requests to another origin" in reasons["https://cdn.example.com"]
    assert any("status 0" in r for r in reasons.values())
    out = tmp_path / "har.py"
    out.write_text(render_scenario(traffic))
    text = out.read_text()
    assert "body=b'{\"item\": 3, \"qty\": 1}'" in text
    assert "'Content-Type': 'application/json'" in text
    assert "Cookie" not in text
    assert "session=secret" not in text
    found, _ = scenario_endpoints(str(out))
    assert set(found) == set(endpoints)


@pytest.mark.parametrize(("content", "message"), [
    ("{", "not JSON"),
    ('{"log": {}}', "no log.entries"),
    ('{"log": {"entries": [{"request": {"method": "GET", "url": "ftp://x/y"}}]}}',
     "no HTTP request"),
])
def test_bad_har(tmp_path, content, message):
    path = tmp_path / "x.har"
    path.write_text(content)
    with pytest.raises(InvalidFile, match=message):
        read_traffic(str(path))


def test_jmx_thread_groups_become_closed_flows_with_checks_and_timers(tmp_path):
    traffic = read_traffic(str(FIXTURES / "shop.jmx"))
    assert [(f.name, f.users, len(f.steps)) for f in traffic.flows] == [
        ("browsers", 5, 2), ("api pollers", 2, 1)]
    assert traffic.base_url == "http://127.0.0.1:8080"  # HTTP Request Defaults, ${__P} default
    assert traffic.run_args == ["-d", "60s"]
    browse, order = traffic.flows[0].steps
    assert browse.request.path == "/api/v1/users/${id}?fields=name%2Cemail"  # UDV substituted
    assert browse.sleep_s == (0.1, 0.3)
    assert [c.expression for c in browse.checks] == ["str(r.status) == '200'"]
    assert order.request.body == b'{"user": "${name}", "items": [1, 2]}'
    assert order.request.headers == (("Content-Type", "application/json"),)
    out = tmp_path / "plan.py"
    out.write_text(render_scenario(traffic))
    (tmp_path / "users.csv").write_text((FIXTURES / "users.csv").read_text())
    spec = load_scenario_file(str(out))
    assert [(s.name, s.connections) for s in spec.scenarios] == [("browsers", 5),
                                                                 ("api pollers", 2)]
    found, notes = scenario_endpoints(str(out))
    assert set(found) == {"GET /api/v1/users/{id}", "POST /api/v1/orders", "GET /health"}
    assert notes == []


def test_jmx_every_element_that_does_not_map_is_listed():
    traffic = read_traffic(str(FIXTURES / "shop.jmx"))
    listed = {(u.element, u.reason.split(":")[0]) for u in traffic.unmapped}
    elements = {e for e, _ in listed}
    assert {"ResultCollector", "SetupThreadGroup", "ThreadGroup.ramp_time",
            "JSONPostProcessor", "IfController", "GaussianRandomTimer", "headers",
            "LoopController.loops"} <= elements
    assert any("Authorization" in u.reason for u in traffic.unmapped)


def test_cli_jmx_lists_unmapped_on_stderr_and_in_json(tmp_path):
    out = tmp_path / "plan.py"
    r = _perflab("load", "import", FIXTURES / "shop.jmx", "-o", out, "--json")
    assert r.returncode == 0, r.stderr
    doc = validate(r.stdout, "load-import")
    assert doc["source"] == "jmx"
    assert doc["run_args"] == ["-d", "60s"]
    for u in doc["unmapped"]:
        assert f"{u['where']}: {u['element']}: {u['reason']}" in r.stderr
    assert {u["element"] for u in doc["unmapped"]} >= {"IfController", "JSONPostProcessor"}
    assert "s3cret" not in out.read_text()
    again = _perflab("load", "import", FIXTURES / "shop.jmx", "-o", out)
    assert again.returncode == 2
    assert "exists" in again.stderr


@pytest.mark.parametrize(("content", "message"), [
    ("<jmeterTestPlan", "not XML"),
    ("<testResults/>", "not <jmeterTestPlan>"),
    ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><jmeterTestPlan/>', "DOCTYPE"),
    ("<jmeterTestPlan><hashTree/></jmeterTestPlan>", "no ThreadGroup"),
])
def test_bad_jmx(tmp_path, content, message):
    path = tmp_path / "x.jmx"
    path.write_text(content)
    with pytest.raises(InvalidFile, match=message):
        read_traffic(str(path))


def _server_span(n: int, method: str, route: str, path: str, at_s: float) -> Span:
    process = Process("shop", {"service.name": "shop"}, "tests", "1")
    start = 1_700_000_000_000_000_000 + int(at_s * 1e9)
    return Span(n.to_bytes(16, "big"), n.to_bytes(8, "big"), None, f"{method} {route}", 2,
                start, 5_000_000, process, 0, "",
                {"http.request.method": method, "http.route": route, "url.path": path,
                 "http.response.status_code": 200, "http.request.body.size": 40,
                 "server.address": "127.0.0.1", "server.port": 8000, "url.scheme": "http"})


def test_traces_server_spans_routes(tmp_path):
    spans = [_server_span(i, "GET", "/users/{user_id}", f"/users/{i}", i * 0.5)
             for i in range(1, 9)]
    spans += [_server_span(20 + i, "POST", "/orders", "/orders", i) for i in range(2)]
    internal = _server_span(40, "GET", "/x", "/x", 1)
    spans.append(Span(internal.trace_id, internal.span_id, None, "consume", 2,
                      internal.start_ns, 1, internal.process, 0, "", {}))
    with Store.open(tmp_path / "s.db") as store:
        sink = SpanSink()
        with store.transaction():
            sink.write(store, spans)
        traffic = read_traces(store)
    endpoints = {e.endpoint: e for e in mix(traffic.requests)}
    assert {k: e.requests for k, e in endpoints.items()} == {
        "GET /users/{user_id}": 8, "POST /orders": 2}
    assert endpoints["POST /orders"].body_bytes_mean == 40
    assert traffic.base_url == "http://127.0.0.1:8000"
    assert [u.element for u in traffic.unmapped] == ["server span"]  # not HTTP: listed
    out = tmp_path / "traces.py"
    out.write_text(render_scenario(traffic))
    assert set(scenario_endpoints(str(out))[0]) == {"GET /users/{id}", "POST /orders"}


def test_traces_empty_store_is_a_clear_error(tmp_path):
    with Store.open(tmp_path / "s.db") as store, pytest.raises(NotFound, match="no server"):
        read_traces(store)


def test_coverage_weighted_by_traffic_and_the_endpoints_missed(tmp_path):
    rows = [(0, "GET", f"/users/{i}") for i in range(90)]
    rows += [(1, "GET", "/search?q=x")] * 7 + [(2, "DELETE", "/users/3")] * 3
    log = _log(tmp_path, rows)
    scenario = tmp_path / "partial.py"
    scenario.write_text(
        "from perflab.load import Scenario, Session\n"
        "s = Scenario('s', base_url='http://127.0.0.1:1', rate=1)\n"
        "@s.task()\n"
        "async def user(s: Session) -> None:\n"
        "    r = await s.get('/users/42')\n"
        "    await s.get('/extra')\n"
        "    r.json()['items']  # needs a real answer: the dry run stops here\n"
        "    await s.get('/search')\n")
    doc = coverage_document(str(scenario), read_traffic(str(log)))
    validate(doc, "load-coverage")
    assert doc["coverage_pct"] == pytest.approx(90.0)
    assert not doc["meets_target"]
    assert [(m["endpoint"], m["requests"]) for m in doc["missed"]] == [
        ("GET /search", 7), ("DELETE /users/{id}", 3)]
    assert doc["not_in_production"] == ["GET /extra"]
    assert "stopped in the dry run (JSONDecodeError" in doc["notes"][0]
    r = _perflab("load", "coverage", scenario, "--against", log, "--fail-under")
    assert r.returncode == 1
    assert "90.0 %" in r.stdout
    assert "GET /search" in r.stdout
    assert "below the target 95 %" in r.stderr


def test_imported_scenario_covers_its_own_log_fully(tmp_path):
    rows = [(s % 5, "GET", f"/users/{s}") for s in range(20)]
    rows += [(2, "PUT", f"/users/{UUID}"), (3, "GET", "/")]
    log = _log(tmp_path, rows)
    out = tmp_path / "s.py"
    r = _perflab("load", "import", log, "-o", out)
    assert r.returncode == 0, r.stderr
    r = _perflab("load", "coverage", out, "--against", log, "--json", "--fail-under")
    assert r.returncode == 0, r.stderr
    doc = validate(r.stdout, "load-coverage")
    assert doc["coverage_pct"] == 100.0
    assert doc["missed"] == []


def test_cli_usage_errors(tmp_path):
    r = _perflab("load", "import", "-o", tmp_path / "x.py")
    assert r.returncode == 2
    assert "give a traffic file or --traces" in r.stderr
    r = _perflab("load", "import", tmp_path / "missing.log")
    assert r.returncode == 2
    assert "no such file" in r.stderr
    r = _perflab("load", "import", FIXTURES / "shop.jmx", "--json")
    assert r.returncode == 2
    assert "--json needs -o" in r.stderr


def test_import_prints_the_scenario_without_o(tmp_path):
    log = _log(tmp_path, [(0, "GET", "/a")])
    r = _perflab("load", "import", log)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith('"""Imported from')
    compile(r.stdout, "scenario.py", "exec")


_LINE_PARTS = st.sampled_from(["1.2.3.4", "-", "[03/Dec/2026:10:00:00 +0000]", '"GET / HTTP/1.1"',
                               '"', "200", "5", '"-"', " ", "[", "]", '\\"', "\x00", "é"])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(data=st.one_of(st.binary(max_size=300),
                      st.lists(_LINE_PARTS, max_size=20).map(lambda p: " ".join(p).encode())))
def test_fuzz_readers_raise_only_invalid_file(tmp_path, data):
    for name in ("x.log", "x.har", "x.jmx"):
        path = tmp_path / name
        path.write_bytes(data)
        with contextlib.suppress(InvalidFile):
            for replay in (False, True):
                compile(render_scenario(read_traffic(str(path)), replay=replay), "s.py", "exec")


def test_fuzz_har_structures(tmp_path):
    path = tmp_path / "x.har"
    docs: list[object] = [
        [], {"log": []},
        {"log": {"entries": [None, 1, {"request": []}, {"request": {"method": 1}}]}},
        {"log": {"entries": [{"request": {"method": "GET", "url": "http://a/",
                                          "headers": [1, {"name": "A"}],
                                          "postData": {"params": [1]}},
                              "response": [], "startedDateTime": "nope"}]}}]
    for doc in docs:
        path.write_text(json.dumps(doc))
        with contextlib.suppress(InvalidFile):
            read_traffic(str(path))


def test_load_run_refuses_a_bad_coverage_log_before_any_traffic(tmp_path):
    bad = tmp_path / "bad.log"
    bad.write_text("not a log line\n")
    store = tmp_path / "s.db"
    r = _perflab("load", "run", "http://127.0.0.1:9/", "-d", "1", "--store", store,
                 "--coverage-against", bad)
    assert r.returncode == 2
    assert r.stderr.startswith(f"perflab: error: {bad}:1: neither the combined nor the common")
    assert not store.exists()  # no run was started


def test_cli_import_and_coverage_from_the_stored_traces(tmp_path):
    spans = [_server_span(i, "GET", "/users/{user_id}", f"/users/{i}", i) for i in range(1, 4)]
    spans.append(_server_span(9, "DELETE", "/users/{user_id}", "/users/2", 5))
    store = tmp_path / "s.db"
    with Store.open(store) as s:
        sink = SpanSink()
        with s.transaction():
            sink.write(s, spans)
    out = tmp_path / "t.py"
    r = _perflab("load", "import", "--traces", "--service", "shop", "--store", store,
                 "-o", out, "--json")
    assert r.returncode == 0, r.stderr
    doc = validate(r.stdout, "load-import")
    assert doc["source"] == "traces"
    assert {e["endpoint"]: e["requests"] for e in doc["endpoints"]} == {
        "GET /users/{user_id}": 3, "DELETE /users/{user_id}": 1}
    r = _perflab("load", "coverage", out, "--traces", "--store", store, "--json")
    assert r.returncode == 0, r.stderr
    assert validate(r.stdout, "load-coverage")["coverage_pct"] == 100.0
    # spans of 2023: none in the last hour
    r = _perflab("load", "import", "--traces", "--since", "1h", "--store", store, "-o",
                 tmp_path / "none.py")
    assert r.returncode == 2
    assert "no server spans in the store" in r.stderr
    r = _perflab("load", "import", log := tmp_path / "x.log", "--traces")
    assert r.returncode == 2
    assert "one of them" in r.stderr
    assert not log.exists()


_TAGS = st.sampled_from(["ThreadGroup", "HTTPSamplerProxy", "hashTree", "ResponseAssertion",
                         "CSVDataSet", "ConstantTimer", "UniformRandomTimer", "HeaderManager",
                         "LoopController", "ConfigTestElement", "Arguments", "IfController",
                         "TestPlan", "elementProp", "collectionProp", "stringProp"])
_PROPS = st.sampled_from(["ThreadGroup.num_threads", "ThreadGroup.ramp_time",
                          "LoopController.loops", "HTTPSampler.path", "HTTPSampler.method",
                          "HTTPSampler.port", "HTTPSampler.postBodyRaw", "ConstantTimer.delay",
                          "RandomTimer.range", "Assertion.test_field", "Assertion.test_type",
                          "variableNames", "filename", "ThreadGroup.scheduler",
                          "ThreadGroup.duration", "ThreadGroup.main_controller",
                          "HTTPsampler.Arguments", "Asserion.test_strings", "Header.name"])
_VALUES = st.sampled_from(["", "1", "-1", "x", "true", "${a}", "${__P(p,3)}", "http://h:1/p",
                           "Assertion.response_code", "1e400", "/a/${id}", "a,b"])


def _element(depth: int) -> st.SearchStrategy[str]:
    leaf = st.builds(lambda t, p, v: f'<{t} name="{p}" testname="n">{v}</{t}>',
                     _TAGS, _PROPS, _VALUES)
    if depth == 0:
        return leaf
    return st.one_of(leaf, st.builds(
        lambda t, p, kids: f'<{t} name="{p}" enabled="true">{"".join(kids)}</{t}>',
        _TAGS, _PROPS, st.lists(_element(depth - 1), max_size=4)))


@settings(max_examples=200, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(body=st.lists(_element(3), max_size=6))
def test_fuzz_jmx_trees_raise_only_invalid_file(tmp_path, body):
    path = tmp_path / "x.jmx"
    path.write_text(f"<jmeterTestPlan><hashTree>{''.join(body)}</hashTree></jmeterTestPlan>")
    with contextlib.suppress(InvalidFile):
        traffic = read_traffic(str(path))
        compile(render_scenario(traffic), "scenario.py", "exec")  # the file is valid Python

"""Scraping as Prometheus does: report series, labels, staleness, and every bad target."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import yaml

from perflab.metrics._config import config_from_doc
from perflab.metrics._http import HttpClient
from perflab.metrics._scrape import ACCEPT, ScrapeManager, TargetState, build_targets
from perflab.metrics._sink import column_rows
from perflab.store import is_stale_nan


class Target:
    """A metrics endpoint whose next answer the test decides."""

    def __init__(self) -> None:
        self.body = b""
        self.status = 200
        self.content_type = "text/plain; version=0.0.4"
        self.delay_s = 0.0
        self.seen_headers: dict[str, str] = {}
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # http.server's name
                target.seen_headers = dict(self.headers)
                time.sleep(target.delay_s)
                self.send_response(target.status)
                self.send_header("Content-Type", target.content_type)
                self.send_header("Content-Length", str(len(target.body)))
                self.end_headers()
                # a scrape past its timeout has closed its end already (the timeout tests)
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(target.body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class Sink:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, int, float]] = []
        self.meta: list[tuple[str, str, str, str]] = []
        self.run_id = 1

    def submit(self, rows: Any) -> bool:
        self.rows.extend(rows)
        return True

    def submit_columns(self, batch: Any) -> bool:
        self.rows.extend(column_rows(batch))
        return True

    def submit_meta(self, items: Any) -> bool:
        self.meta.extend(items)
        return True


@pytest.fixture
def target() -> Iterator[Target]:
    t = Target()
    yield t
    t.server.shutdown()
    t.server.server_close()


def _state(target: Target, extra: dict[str, Any] | None = None) -> TargetState:
    doc = {"scrape_configs": [{"job_name": "api", "static_configs": [
        {"targets": [f"127.0.0.1:{target.port}"], "labels": {"env": "test"}}],
        **(extra or {})}]}
    cfg = config_from_doc(yaml.safe_load(json.dumps(doc)), "prometheus.yml")
    [t] = build_targets(cfg.scrape_configs[0], list(cfg.scrape_configs[0].static))
    return TargetState(t)


def _scrape(manager: ScrapeManager, state: TargetState) -> None:
    async def go() -> None:
        client = HttpClient(state.target.url)
        try:
            await manager.scrape_once(state, client, {
                "Accept": ACCEPT, "X-Prometheus-Scrape-Timeout-Seconds": "1"})
        finally:
            await client.close()
    asyncio.run(go())


def _by_name(rows: list[tuple[str, str, int, float]]) -> dict[tuple[str, str], float]:
    return {(n, lab): v for n, lab, _, v in rows}


def test_a_scrape_stores_samples_with_target_labels_and_report_series(target):
    target.body = b'# TYPE a_total counter\na_total{path="/x"} 5\nb 1.5\n'
    sink = Sink()
    manager = ScrapeManager(config_from_doc({}, ""), sink)  # type: ignore[arg-type]
    state = _state(target, {"scrape_timeout": "1s"})
    _scrape(manager, state)
    got = _by_name(sink.rows)
    base = {"env": "test", "instance": f"127.0.0.1:{target.port}", "job": "api"}
    assert got[("a_total", json.dumps({**base, "path": "/x"}, sort_keys=True,
                                      separators=(",", ":")))] == 5.0
    assert got[("up", json.dumps(base, sort_keys=True, separators=(",", ":")))] == 1.0
    names = {n for n, _, _, _ in sink.rows}
    assert {"scrape_duration_seconds", "scrape_samples_scraped",
            "scrape_samples_post_metric_relabeling", "scrape_series_added"} <= names
    assert state.health == "up"
    assert "application/openmetrics-text" in target.seen_headers["Accept"]
    assert sink.meta == [("a_total", "counter", "", "")]


def test_a_series_that_disappears_gets_a_staleness_marker(target):
    sink = Sink()
    manager = ScrapeManager(config_from_doc({}, ""), sink)  # type: ignore[arg-type]
    state = _state(target)
    target.body = b"a 1\nb 2\n"
    _scrape(manager, state)
    sink.rows.clear()
    target.body = b"a 1\n"
    _scrape(manager, state)
    stale = [n for n, _, _, v in sink.rows if math.isnan(v) and is_stale_nan(v)]
    assert stale == ["b"]


def test_a_failed_scrape_is_up_0_and_marks_every_series_stale(target):
    sink = Sink()
    manager = ScrapeManager(config_from_doc({}, ""), sink)  # type: ignore[arg-type]
    state = _state(target)
    target.body = b"a 1\nb 2\n"
    _scrape(manager, state)
    sink.rows.clear()
    target.status = 503
    _scrape(manager, state)
    up = [v for n, _, _, v in sink.rows if n == "up"]
    assert up == [0.0]
    assert sorted(n for n, _, _, v in sink.rows if is_stale_nan(v)) == ["a", "b"]
    assert state.health == "down"
    assert state.last_error == "server returned HTTP status 503"


@pytest.mark.parametrize(("setup", "error"), [
    (lambda t: t.__dict__.update(body=b"<html><body>login</body></html>",
                                 content_type="text/html"), "answered HTML"),
    (lambda t: setattr(t, "delay_s", 1.5), "context deadline exceeded"),
    (lambda t: setattr(t, "body", b"x 1\n" * 400_000), "body size limit"),
    (lambda t: setattr(t, "body", b"this is not { metrics\n"), "not Prometheus metrics"),
])
def test_bad_targets_are_down_with_a_clear_error(target, setup, error):
    setup(target)
    sink = Sink()
    manager = ScrapeManager(config_from_doc({}, ""), sink)  # type: ignore[arg-type]
    state = _state(target, {"scrape_timeout": "1s", "body_size_limit": "1MB"})
    _scrape(manager, state)
    assert state.health == "down"
    assert error in state.last_error
    assert [v for n, _, _, v in sink.rows if n == "up"] == [0.0]


def test_duplicate_series_in_one_answer_are_dropped_and_counted(target):
    target.body = b"a 1\na 2\nb 3\n"
    sink = Sink()
    manager = ScrapeManager(config_from_doc({}, ""), sink)  # type: ignore[arg-type]
    state = _state(target)
    _scrape(manager, state)
    assert [v for n, _, _, v in sink.rows if n == "a"] == [1.0]
    assert state.duplicates == 1
    assert state.health == "up"


def test_honor_labels_and_metric_relabel_configs(target):
    target.body = (b'a{job="theirs",x="1"} 1\ngo_gc 2\nkeep_me{secret="s"} 3\n')
    sink = Sink()
    manager = ScrapeManager(config_from_doc({}, ""), sink)  # type: ignore[arg-type]
    state = _state(target, {"metric_relabel_configs": [
        {"source_labels": ["__name__"], "regex": "go_.*", "action": "drop"},
        {"regex": "secret", "action": "labeldrop"},
        {"source_labels": ["x"], "target_label": "y", "replacement": "is-$1"},
    ]})
    _scrape(manager, state)
    got = {n: json.loads(lab) for n, lab, _, _ in sink.rows}
    assert "go_gc" not in got
    assert got["a"]["job"] == "api"
    assert got["a"]["exported_job"] == "theirs"
    assert got["a"]["y"] == "is-1"
    assert "secret" not in got["keep_me"]
    state2 = _state(target, {"honor_labels": True})
    sink.rows.clear()
    _scrape(manager, state2)
    got = {n: json.loads(lab) for n, lab, _, _ in sink.rows}
    assert got["a"]["job"] == "theirs"


def test_relabel_configs_choose_and_shape_targets():
    doc = yaml.safe_load("""
scrape_configs:
  - job_name: node
    params: {module: [http_2xx]}
    static_configs:
      - targets: ['a:9100', 'b:9100']
        labels: {team: x}
    relabel_configs:
      - source_labels: [__address__]
        regex: 'b:.*'
        action: drop
      - source_labels: [__address__]
        regex: '([^:]+):.*'
        target_label: host
""")
    cfg = config_from_doc(doc, "p.yml").scrape_configs[0]
    [t] = build_targets(cfg, list(cfg.static))
    assert dict(t.labels) == {"host": "a", "instance": "a:9100", "job": "node", "team": "x"}
    assert t.url == "http://a:9100/metrics?module=http_2xx"


def test_file_sd_targets_are_read_and_follow_the_file(tmp_path):
    sd = tmp_path / "targets.json"
    sd.write_text(json.dumps([{"targets": ["127.0.0.1:1"], "labels": {"zone": "z"}}]))
    cfg = config_from_doc(yaml.safe_load(f"""
scrape_configs:
  - job_name: filejob
    file_sd_configs: [{{files: ['{sd}']}}]
"""), str(tmp_path / "p.yml"))
    manager = ScrapeManager(cfg, Sink())  # type: ignore[arg-type]
    active, _ = manager.discover(cfg)
    assert [dict(t.labels)["zone"] for t in active] == ["z"]
    sd.write_text(json.dumps([{"targets": ["127.0.0.1:1", "127.0.0.1:2"]}]))
    active, _ = manager.discover(cfg)
    assert len(active) == 2


@pytest.mark.parametrize("honor", [True, False])
def test_samples_own_times_are_kept_with_honor_timestamps_and_impossible_ones_dropped(
        target, honor):
    target.body = b"a 1 1700000000123\nb 2\nc 3 9223372036854775807\n"
    sink = Sink()
    manager = ScrapeManager(config_from_doc({}, ""), sink)  # type: ignore[arg-type]
    state = _state(target, {"honor_timestamps": honor})
    _scrape(manager, state)
    times = {n: ts for n, _, ts, _ in sink.rows}
    up = times["up"]
    assert times["b"] == up
    if honor:  # a's own time; c's (2**63 - 1 ms) is past what a store holds: not stored
        assert times["a"] == 1_700_000_000_123 * 1_000_000
        assert "c" not in times
    else:
        assert times["a"] == times["c"] == up
    assert state.health == "up"


def test_perflab_scrape_ends_its_run_at_once_without_building_rollups(target, tmp_path, capsys):
    """Ctrl-C (or --duration) ends the run without computing rollups of every series: at a
    thousand targets that took minutes after the scrapes had stopped."""
    from perflab.cli import main  # noqa: PLC0415
    from perflab.store import Store  # noqa: PLC0415

    target.body = b"a_total 1\nb 2\n"
    config = tmp_path / "prometheus.yml"
    config.write_text("global: {scrape_interval: 1s, scrape_timeout: 1s}\nscrape_configs:\n"
                      f"  - job_name: t\n    static_configs: [{{targets: ['127.0.0.1:"
                      f"{target.port}']}}]\n")
    db = tmp_path / "perflab.db"
    assert main(["scrape", "-c", str(config), "--store", str(db), "--duration", "2s",
                 "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["samples_written"] > 0
    with Store.open(db) as st:
        run = st.run(doc["run_id"])
        assert run.status == "ok"
        assert run.ended_ns is not None
        series = st.series(run.id)
        assert series
        assert not any(st.has_rollup(s.id) for s in series)

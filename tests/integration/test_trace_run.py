"""``perflab run`` with a real hub: a Python service set up with ``perflab.otel.setup()`` (and
one under the zero-code instrumentation, ``--trace``) sends its spans to the hub, they carry the
run's id and land on its timeline (RED series); the child's exit code and signals pass through."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

import pytest
from tests._schemas import validate
from tests.conftest import wait_for

from perflab.store import Store, span_services
from perflab.testing import free_port, serve
from perflab.trace import TraceQuery, find_traces

pytestmark = pytest.mark.integration
SRC = Path(__file__).resolve().parents[2] / "src"


def _perflab(*args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    env.pop("OTEL_SERVICE_NAME", None)
    return subprocess.Popen([sys.executable, "-m", "perflab", *args], env=env, **kw)


@pytest.fixture
def hub(tmp_path):
    port = free_port()
    store = tmp_path / "lab.db"
    with serve(store, "--no-record", "--otlp-http", f"127.0.0.1:{port}", "--no-otlp-grpc",
               "--no-zipkin") as served:
        yield store, f"http://127.0.0.1:{port}", served


SERVICE = textwrap.dedent("""
    import sys, time
    import perflab.otel
    from opentelemetry import trace
    provider = perflab.otel.setup()
    tracer = trace.get_tracer("checkout")
    with tracer.start_as_current_span("POST /checkout", kind=trace.SpanKind.SERVER):
        with tracer.start_as_current_span("charge card"):
            time.sleep(0.05)
    provider.shutdown()
    sys.exit(5)
""")


def test_perflab_run_traces_a_service_set_up_with_perflab_otel(hub, tmp_path):
    store_path, url, _ = hub
    script = tmp_path / "checkout.py"
    script.write_text(SERVICE)
    proc = _perflab("run", "--hub", url, "--store", str(store_path), "--json", "--",
                    sys.executable, str(script), stdout=subprocess.PIPE)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 5  # the child's own exit code
    doc = json.loads(out)
    validate(doc, "run")
    run_id = doc["run"]["id"]

    def stored():
        with Store.open(store_path) as store:
            return find_traces(store, TraceQuery(service="checkout", limit=5))

    traces = wait_for(stored, timeout_s=40, what="the spans", every_s=0.2)
    root = traces[0].root()
    assert root.name == "POST /checkout"
    assert root.process.attrs["perflab.run.id"] == str(run_id)
    with Store.open(store_path) as store:
        run = store.run(run_id)
        assert (run.kind, run.status, run.meta["exit_code"]) == ("run", "failed", 5)

    def red():
        with Store.open(store_path) as store:
            return [s for s in store.series(run_id) if s.name == "trace.requests_per_s"]

    # the hub writes RED every 5 s, into runs of that time
    series = wait_for(red, timeout_s=30, what="RED series", every_s=0.2)
    assert series[0].labels["service"] == "checkout"


def test_perflab_run_trace_uses_the_zero_code_instrumentation(hub, tmp_path):
    store_path, url, _ = hub
    script = tmp_path / "plain.py"
    script.write_text(textwrap.dedent("""
        from opentelemetry import trace   # no SDK set-up here: the instrumentation does it
        with trace.get_tracer("plain").start_as_current_span("zero-code work"):
            pass
    """))
    proc = _perflab("run", "--trace", "--hub", url, "--store", str(store_path), "--",
                    sys.executable, str(script))
    assert proc.wait(timeout=120) == 0

    def stored():
        with Store.open(store_path) as store:
            return "plain" in span_services(store)

    wait_for(stored, timeout_s=40, what="the spans", every_s=0.2)


def test_signals_reach_the_child_and_its_exit_code_comes_back(tmp_path):
    script = tmp_path / "waits.py"
    script.write_text(textwrap.dedent("""
        import signal, sys, time
        signal.signal(signal.SIGTERM, lambda *a: sys.exit(42))
        print("ready", flush=True)
        time.sleep(60)
    """))
    proc = _perflab("run", "--store", str(tmp_path / "s.db"), "--", sys.executable,
                    str(script), stdout=subprocess.PIPE)
    assert proc.stdout is not None
    with proc.stdout:
        assert proc.stdout.readline().strip() == b"ready"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 42
    with Store.open(tmp_path / "s.db") as store:
        run = store.runs(kind="run")[0]
        assert run.meta["exit_code"] == 42
        assert any(s.name == "process.rss_bytes" for s in store.series(run.id))


TRACED_SERVER = textwrap.dedent("""
    import http.server, sys
    import perflab.otel
    from opentelemetry import trace
    perflab.otel.setup(service_name="shop")
    tracer = trace.get_tracer("shop")

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def log_message(self, *args):
            pass
        def do_GET(self):
            with tracer.start_as_current_span("GET", kind=trace.SpanKind.SERVER,
                                              attributes={"url.path": self.path}):
                body = b"ok"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()
""")


def test_a_load_test_reports_what_share_of_its_requests_were_traced(hub, tmp_path):
    store_path, url, served = hub
    script = tmp_path / "shop.py"
    script.write_text(TRACED_SERVER)
    env = {**os.environ, "PYTHONPATH": str(SRC), "OTEL_EXPORTER_OTLP_ENDPOINT": url,
           "OTEL_BSP_SCHEDULE_DELAY": "200"}
    service = subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE)
    try:
        assert service.stdout is not None
        port = int(service.stdout.readline())
        load = _perflab("load", f"http://127.0.0.1:{port}/items", "-d", "2s", "-c", "2",
                        "--store", str(store_path), "--json", stdout=subprocess.PIPE)
        out, _ = load.communicate(timeout=180)
    finally:
        service.terminate()
        service.wait(30)
        if service.stdout is not None:
            service.stdout.close()
    assert load.returncode == 0
    doc = json.loads(out)
    validate(doc, "load")
    tracing = doc["tracing"]
    assert tracing["requests"] == doc["requests"] > 0
    # every request the load counted made a server span; the hub may also hold the spans of
    # requests still in flight when the load stopped counting
    assert tracing["traced_pct"] == 100.0
    assert tracing["routes"][0]["path"] == "/items"
    assert tracing["untraced_routes"] == []
    # and the Run page's load section says the same
    with urllib.request.urlopen(f"{served.url}/runs/{doc['run_id']}", timeout=60) as page:
        html = page.read().decode()
    assert 'id="load-tracing"' in html
    line = f"tracing: {tracing['traces']:,} of {doc['requests']:,} requests produced a trace"
    assert f"{line} (100.0 %)" in html, re.findall(r"tracing: [^<]*", html)

"""Machine instructions the demo chain's tracing costs a checkout, counted by callgrind.

CPU time per request of the real chain (``bench_trace_overhead.py``) swings by tens of per cent
from round to round on a shared machine; instruction counts do not. This runs, in one process,
what the chain's three services do for a checkout with tracing (nine spans: the server spans,
their client calls and the store's queries, each with its attributes; the W3C context extracted
and injected at each hop; ``perflab.otel.setup`` with its real OTLP exporter, flushed at the end
to a hub when ``--endpoint`` names one), without the network and http.server around it. Each
configuration is counted with N checkouts and with none, and the difference divided by N, so
start-up and imports do not count.

    python benchmarks/bench_trace_instrumentation.py [--checkouts 3000] [--endpoint URL]
                                                     [--before-src OLD/src]

prints instructions a checkout with tracing off (the API's no-op tracer), at 10 % and 100 %
head sampling, and the 10 % of another tree's ``src/`` (``--before-src``). Needs valgrind; a
configuration takes a minute or two.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
CONFIGS = {
    "off": {"OTEL_SDK_DISABLED": "true"},
    "10%": {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"},
    "100%": {"OTEL_TRACES_SAMPLER": "parentbased_always_on"},
}

CHAIN = """
import os, sys
import perflab.otel
provider = perflab.otel.setup(service_name="chain")
from opentelemetry import propagate, trace
tracer = trace.get_tracer("perflab.demo.chain")
BASE = {"Host": "127.0.0.1", "User-Agent": "Python-urllib/3.11", "Accept-Encoding": "identity",
        "Connection": "close"}

def server(headers, path, inner):
    ctx = propagate.extract({k.lower(): v for k, v in headers.items()})
    with tracer.start_as_current_span("GET " + path, context=ctx,
                                      kind=trace.SpanKind.SERVER) as span:
        span.set_attribute("http.request.method", "GET")
        span.set_attribute("url.path", path)
        span.set_attribute("http.route", path)
        inner()
        span.set_attribute("http.response.status_code", 200)

def client(path, inner):
    with tracer.start_as_current_span("GET " + path, kind=trace.SpanKind.CLIENT) as span:
        span.set_attribute("url.full", "http://127.0.0.1:40000" + path + "?order=1")
        headers = {}
        propagate.inject(headers)
        inner({**BASE, **headers})
        span.set_attribute("http.response.status_code", 200)

def query(table):
    with tracer.start_as_current_span("SELECT " + table, kind=trace.SpanKind.CLIENT) as span:
        span.set_attribute("db.system", "sqlite")
        span.set_attribute("db.collection.name", table)

def store(headers, table):
    server(headers, "/query", lambda: query(table))

def api(headers):
    server(headers, "/cart", lambda: (client("/query", lambda h: store(h, "items")),
                                      client("/query", lambda h: store(h, "prices"))))

def checkout():
    server(BASE, "/checkout", lambda: client("/cart", api))

for _ in range(int(sys.argv[1])):
    checkout()
if provider is not None:
    provider.shutdown()  # the export of what was recorded counts too
"""


def _instructions(src: Path, env: dict[str, str], checkouts: int, tmp: Path) -> int:
    script = tmp / "chain_spans.py"
    script.write_text(CHAIN)
    out = subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp / 'cg.out'}",
         sys.executable, str(script), str(checkouts)],
        env={**os.environ, **env, "PYTHONPATH": str(src)}, capture_output=True, text=True,
        check=True, timeout=1800)
    found = re.search(r"Collected : (\d+)", out.stderr)
    if found is None:
        raise RuntimeError(f"no count from callgrind: {out.stderr[-500:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkouts", type=int, default=3000)
    parser.add_argument("--endpoint", default="http://127.0.0.1:9",
                        help="the OTLP/HTTP base URL spans go to (default: nowhere)")
    parser.add_argument("--before-src", type=Path, default=None)
    args = parser.parse_args()
    runs = [(name, SRC, env) for name, env in CONFIGS.items()]
    if args.before_src is not None:
        runs.append(("10% before", args.before_src.resolve(), CONFIGS["10%"]))
    counts: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as d:
        for name, src, config in runs:
            env = {**config, "OTEL_EXPORTER_OTLP_ENDPOINT": args.endpoint}
            none = _instructions(src, env, 0, Path(d))
            many = _instructions(src, env, args.checkouts, Path(d))
            counts[name] = (many - none) / args.checkouts
            print(f"{name:>10}: {counts[name]:>10,.0f} instructions a checkout"
                  + (f" ({counts[name] - counts['off']:+,.0f} over off)" if name != "off"
                     else ""), flush=True)


if __name__ == "__main__":
    main()

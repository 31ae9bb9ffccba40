"""What the resilience step adds to `perflab demo` (brief: about 10 s at most), and its verdicts.

Runs the step exactly as the demo does (the fault proxy in front of the store, checkouts judged
before, under the latency toxic, between, under the error toxic) on the demo's own chain served
in threads of this process, with a scratch store, several times. Prints, per round, the wall
time and each toxic's verdict with its p99 and error rate; then the worst wall time against the
budget. To see it hold on a busy machine, run it beside `stress-ng --cpu $(nproc)`.

    PYTHONPATH=src python benchmarks/bench_demo_resilience.py [ROUNDS]
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path

from opentelemetry import trace

from perflab.demo import chain
from perflab.demo._resilience import FaultProxy, resilience_step
from perflab.store import Store

BUDGET_S = 10.0


def serve(role: str, next_url: str) -> ThreadingHTTPServer:
    handler = type("Handler", (chain._Handler,), {  # noqa: SLF001  # the demo's own handler
        "role": role, "next_url": next_url, "tracer": trace.get_tracer("bench")})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    worst = 0.0
    with tempfile.TemporaryDirectory() as d:
        store_path = Path(d) / "s.db"
        servers = [serve("store", "")]
        proxy = FaultProxy(store_path)
        try:
            servers.append(serve("api", proxy.start(servers[0].server_port)))
            servers.append(serve("frontend", f"http://127.0.0.1:{servers[1].server_port}"))
            for i in range(rounds):
                with Store.open(store_path) as store:
                    run_id = store.create_run("demo", f"round {i + 1}").id
                wall0 = time.monotonic()
                found = resilience_step(proxy, store_path, run_id, servers[2].server_port,
                                        threading.Event())
                wall = time.monotonic() - wall0
                worst = max(worst, wall)
                verdicts = "; ".join(
                    f"{f.toxic.key}: survived={f.survived} ({f.during.text() if f.during else '-'})"
                    for f in found)
                print(f"round {i + 1}: {wall:.2f} s  {verdicts}")
        finally:
            proxy.stop()
            for server in servers:
                server.shutdown()
                server.server_close()
    print(f"worst {worst:.2f} s against a budget of {BUDGET_S:.0f} s")
    return 0 if worst <= BUDGET_S else 1


if __name__ == "__main__":
    sys.exit(main())

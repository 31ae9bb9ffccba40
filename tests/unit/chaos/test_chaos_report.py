"""``perflab chaos report RUN``: per fault the steady state before it, the worst deviation
during it and the time until the load was back within the steady band, from the load's
per-second series (written here as a load run writes them) and the run's fault bands."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from tests._faults import ENV
from tests._schemas import validate
from tests.conftest import wait_for

from perflab.chaos import FaultBands, LoadSeconds, render_resilience, resilience, running_server
from perflab.cli import main
from perflab.serving import listening_socket
from perflab.store import CHAOS_FAULT_EVENT, BatchWriter, Store

S = 10**9
T0 = 1_800_000_000 * S


def _load_run(store: Store, seconds: list[tuple[float, float, float]], *,
              kind: str = "load", start: int = T0) -> int:
    """A run with one (p99 ms, requests/s, errors/s) per second, from ``start``."""
    run = store.create_run(kind, "checkout", started_ns=start)
    writer = BatchWriter(store, run.id)
    for i, (p99, rps, errors) in enumerate(seconds, 1):
        ts = start + i * S
        writer.add_value("load.latency_ms", {"quantile": "0.99"}, ts, p99, "ms")
        writer.add_value("load.latency_ms", {"quantile": "0.5"}, ts, p99 / 4, "ms")
        writer.add_value("load.rps", None, ts, rps, "/s")
        writer.add_value("load.errors_per_s", None, ts, errors, "/s")
    writer.flush()
    store.finish_run(run.id, "ok", ended_ns=start + len(seconds) * S)
    return run.id


STEADY = [(10.0, 100.0, 0.0)] * 9 + [(11.0, 100.0, 0.0)]  # 10 s: p99 10-11 ms, no errors
FAULT = [(300.0, 50.0, 5.0), (250.0, 50.0, 1.0), (200.0, 100.0, 0.0)]  # 3 s
AFTER = [(40.0, 100.0, 0.0), (10.5, 100.0, 0.0), (13.0, 100.0, 0.0), (10.0, 100.0, 0.0),
         (10.0, 100.0, 0.0), (10.0, 100.0, 0.0)]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(tmp_path / "s.db")


def test_worst_deviation_and_time_to_recover_of_a_band_on_a_load_run(store: Store) -> None:
    run_id = _load_run(store, STEADY + FAULT + AFTER)
    store.add_event(run_id, CHAOS_FAULT_EVENT, "toxic http_latency slow on web",
                    ts_ns=T0 + 10 * S, end_ns=T0 + 13 * S,
                    attrs={"fault": "toxic", "name": "slow", "type": "http_latency",
                           "attributes": {"latency": 250}})
    doc = resilience(store, run_id)
    validate(doc, "chaos-report")
    assert (doc["version"], doc["kind"], doc["load_runs"]) == (2, "load", [])
    (fault,) = doc["faults"]
    assert fault["steady"] == {"seconds": 10, "p99_ms": 10.0, "p99_band_ms": 11.0,
                               "error_rate": 0.0, "error_band": 0.005}
    assert fault["seconds_during"] == 3
    assert fault["worst_p99_ms"] == 300.0
    assert fault["worst_p99_ratio"] == 30.0
    assert fault["worst_p99_at_ns"] == T0 + 11 * S
    assert fault["worst_error_rate"] == 0.1  # 5 of 50 in its first second
    assert fault["error_rate_during"] == pytest.approx(6 / 200)
    assert fault["out_of_band_s"] == 3
    # 40 ms, then 10.5 (in), 13 (out): the first three in a row start at +3 s after the end
    assert fault["recovered_after_s"] == 3.0
    assert fault["checks_during"] is None
    text = render_resilience(doc)
    assert "fault http_latency slow: 3.00 s" in text
    assert "worst during it: p99 300ms (30.0x steady) at +1 s, errors 10.00% in a second" in text
    assert "back within the steady band: 3.00 s after its end" in text


def test_not_recovered_and_a_fault_still_on(store: Store) -> None:
    run_id = _load_run(store, STEADY + FAULT + [(90.0, 100.0, 0.0)] * 4)
    store.add_event(run_id, CHAOS_FAULT_EVENT, "net loss", ts_ns=T0 + 10 * S,
                    end_ns=T0 + 13 * S, attrs={"fault": "net-loss"})
    store.add_event(run_id, CHAOS_FAULT_EVENT, "toxic latency l on a", ts_ns=T0 + 15 * S,
                    attrs={"fault": "toxic", "name": "l", "type": "latency"})
    first, second = resilience(store, run_id)["faults"]
    assert first["type"] == "net-loss"
    assert first["recovered_after_s"] is None  # never back within 11 ms before the next one
    assert second["end_ns"] is None
    assert second["steady"] is not None  # the seconds since the first one ended
    assert second["steady"]["p99_ms"] == 90.0
    assert second["recovered_after_s"] is None
    assert "back within the steady band: not seen" in render_resilience(
        resilience(store, run_id))


def test_an_experiment_takes_the_load_of_the_load_runs_overlapping_it(store: Store) -> None:
    load_id = _load_run(store, STEADY + FAULT + AFTER)
    chaos = store.create_run("chaos", "survives a slow payment service", started_ns=T0 + 2 * S)
    store.add_event(chaos.id, "chaos.hypothesis", "steady state before: met",
                    ts_ns=T0 + 3 * S, end_ns=T0 + 4 * S, attrs={"when": "before", "met": True})
    store.add_event(chaos.id, "chaos.hypothesis", "during", ts_ns=T0 + 11 * S,
                    end_ns=T0 + 12 * S, attrs={"when": "during", "met": False})
    store.add_event(chaos.id, CHAOS_FAULT_EVENT, "latency toxic slow", ts_ns=T0 + 10 * S,
                    end_ns=T0 + 13 * S, attrs={"name": "slow", "type": "latency"})
    store.finish_run(chaos.id, "deviated", ended_ns=T0 + 20 * S)
    doc = resilience(store, chaos.id)
    validate(doc, "chaos-report")
    assert doc["load_runs"] == [load_id]
    (fault,) = doc["faults"]
    assert fault["worst_p99_ms"] == 300.0
    assert (fault["checks_during"], fault["not_met_during"]) == (1, 1)
    assert fault["steady_state_again_after_s"] is None
    text = render_resilience(doc)
    assert "steady state before: met" in text
    assert f"load: runs {load_id}" in text
    assert "checks: 1 of 1 not met during it" in text


def test_the_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.db"
    with Store.open(path) as store:
        bare = _load_run(store, STEADY)
        run_id = _load_run(store, STEADY + FAULT + AFTER)
        store.add_event(run_id, CHAOS_FAULT_EVENT, "x", ts_ns=T0 + 10 * S, end_ns=T0 + 13 * S,
                        attrs={"name": "x", "type": "latency"})
    assert main(["chaos", "report", str(run_id), "--store", str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    validate(doc, "chaos-report")
    assert doc["faults"][0]["recovered_after_s"] == 3.0
    assert main(["chaos", "report", str(bare), "--store", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"perflab: error: run {bare} (load) has no fault on its timeline")
    assert "--follow-load" in err


# alone: its recovery is 3 seconds back within 10 % of the steady p99, and beside the other
# xdist worker the proxy's process stalled 100-300 ms every few seconds for 15 s after the toxic
# (under stress-ng, three gates in four); one at a time, it held every time
@pytest.mark.alone
def test_a_real_load_through_the_proxy_under_a_latency_toxic(tmp_path: Path,
                                                            slow_web: str) -> None:
    """`perflab load` through the proxy (with --follow-load's bands); a 200 ms toxic for 2 s in
    the middle: the report's worst p99 is at least the toxic's, well above the steady band, and
    the load comes back within the band after it. Lower bounds only: no timing of speed. The
    upstream answers 100 ms late: with a fast one, a second's p99 followed what the other xdist
    worker ran (under stress-ng, never back within the band of 10 % after the toxic). The load
    goes on for at least 10 s after the toxic, as recovery needs 3 seconds in a row."""
    path = tmp_path / "s.db"
    bands = FaultBands(path, follow_load=True)
    sock = listening_socket("127.0.0.1", 0)
    with running_server(sock, bands=bands) as chaos:
        api = f"http://127.0.0.1:{chaos.port}"
        listen = requests.post(f"{api}/proxies", json={"name": "web", "upstream": slow_web},
                               timeout=10).json()["listen"]
        load = subprocess.Popen(
            [sys.executable, "-m", "perflab", "load", "run", f"http://{listen}/", "-d", "24s",
             "-c", "4", "--workers", "1", "--store", str(path), "--name", "e2e"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ENV)
        try:
            def seconds_recorded() -> int:
                with Store.open(path) as store:
                    runs = store.runs(kind="load")
                    return 0 if not runs else sum(
                        len(store.samples(s.id)) for s in store.series(runs[0].id)
                        if s.name == "load.rps")

            wait_for(lambda: seconds_recorded() >= 5, timeout_s=60, what="5 s of load")
            r = requests.post(f"{api}/proxies/web/toxics", timeout=10, json={
                "type": "http_latency", "stream": "upstream", "duration": "2s",
                "attributes": {"latency": 200}})
            assert r.status_code == 200, r.text
            _, err = load.communicate(timeout=120)
        finally:
            load.kill()
    sock.close()
    assert load.returncode == 0, err
    with Store.open(path) as store:
        (run,) = store.runs(kind="load")
        doc = resilience(store, run.id)
    validate(doc, "chaos-report")
    (fault,) = doc["faults"]
    assert fault["type"] == "http_latency"
    assert fault["steady"] is not None
    assert fault["worst_p99_ms"] is not None
    assert fault["worst_p99_ms"] >= 200
    assert fault["worst_p99_ms"] > fault["steady"]["p99_band_ms"]
    assert fault["out_of_band_s"]
    assert fault["end_ns"] is not None  # the toxic's duration ended it
    assert fault["end_ns"] - fault["start_ns"] >= 2 * 10**9
    if fault["recovered_after_s"] is None:
        with Store.open(path) as store:  # say why: each second's p99, rate and errors
            load_s = LoadSeconds.read(store, [run.id])
        seconds = [(round((ts - fault["start_ns"]) / 1e9, 1), load_s.p99.get(ts), load_s.rps[ts],
                    load_s.errors.get(ts)) for ts in sorted(load_s.rps)]
        pytest.fail(f"no recovery; steady {fault['steady']}; seconds from the toxic's start "
                    f"(p99 ms, rps, errors): {seconds}")

"""Rules replayed over a recorded run: the demo's leak rule fires on a growing RSS and leaves
an alert band on the run's timeline; a flat RSS fires nothing."""

from __future__ import annotations

from perflab.demo._alerts import leak_alerts
from perflab.store import BatchWriter

S = 1_000_000_000
T0 = 1_790_000_000 * S


def _run(store, slope_bytes_per_s: float) -> int:
    run = store.create_run("demo", "leaky", started_ns=T0)
    w = BatchWriter(store, run.id)
    sid = w.series("process.rss_bytes", {"pid": "4242", "name": "demo"}, unit="bytes")
    for t in range(300):
        grows = 60 <= t < 150
        w.add(sid, T0 + t * S, 50e6 + (slope_bytes_per_s * (t - 60) if grows else
                                       (slope_bytes_per_s * 90 if t >= 150 else 0)))
    w.flush()
    store.finish_run(run.id, "ok", ended_ns=T0 + 300 * S)
    return run.id


def test_the_leak_rule_fires_during_the_leak_and_resolves_after(store):
    run_id = _run(store, 200_000)  # ~11 MiB a minute
    notes = leak_alerts(store, run_id, 4242)
    assert len(notes) == 1
    assert notes[0].startswith("alert MemoryLeak fired ")
    [event] = [e for e in store.events(run_id) if e.kind == "alert"]
    assert event.text == "MemoryLeak firing"
    assert T0 + 60 * S < event.ts_ns < T0 + 150 * S
    assert event.end_ns is not None  # a band: it resolved
    assert event.end_ns > T0 + 150 * S
    assert event.attrs["labels"]["pid"] == "4242"


def test_a_flat_rss_fires_nothing(store):
    run_id = _run(store, 0)
    assert leak_alerts(store, run_id, 4242) == []
    assert [e for e in store.events(run_id) if e.kind == "alert"] == []


def test_the_report_has_an_alerts_section(store, tmp_path):
    from perflab.report import render_report  # noqa: PLC0415

    run_id = _run(store, 200_000)
    leak_alerts(store, run_id, 4242)
    html = render_report(store, run_id)
    assert '<table id="alerts">' in html
    assert "MemoryLeak" in html
    assert 'pid="4242"' in html

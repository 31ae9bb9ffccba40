"""``open_incident`` against real processes: every step leaves an evidence item and its output,
a suspect that exits mid-capture and a disk that fills stop cleanly keeping what was taken,
and a PID that does not exist is refused before anything is written."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from tests._schemas import validate

from perflab.errors import NoSuchProcess, StoreFull
from perflab.incident import CaptureOptions, analyse, incident_document, open_incident
from perflab.store import incident_items, incidents, record_deploy


def test_a_capture_keeps_each_steps_output_and_context(store, sleeper):
    record_deploy(store, "checkout", "v2")
    store.create_run("bench", "bench abc")  # a benchmark history: regressions are looked for
    opts = CaptureOptions("checkout slow", pids=(sleeper.pid,), services=("checkout",),
                          profile_s=0)
    captured = open_incident(store, opts)
    steps = {i.title: i.attrs for i in incident_items(store, captured.incident_id, "evidence")}
    assert {"store context", "system", "net", f"proc {sleeper.pid}", f"stacks {sleeper.pid}",
            "bench regressions", "process watch"} <= set(steps)
    assert steps["system"]["status"] == "ok"
    assert steps[f"proc {sleeper.pid}"]["status"] == "ok"
    assert all(a["status"] in ("ok", "failed", "timeout") for a in steps.values())
    assert store.run(captured.incident_id).status == "ok"
    analyse(store, captured.incident_id)
    doc = validate(incident_document(store, captured.incident_id), "incident")
    deploy = [f for f in doc["findings"] if f["title"].startswith("deploy of checkout v2")]
    assert deploy
    assert deploy[0]["link"].startswith("/runs/")
    evidence = {e["step"]: e for e in doc["evidence"]}
    art = evidence["system"]["artifact_id"]
    assert store.artifact_data(art).startswith(b"{")


def test_a_suspect_that_exits_during_the_capture_ends_it_cleanly(store):
    short = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1.5)"])
    try:
        captured = open_incident(store, CaptureOptions("short", pids=(short.pid,),
                                                       profile_s=2))
    finally:
        short.wait()
    items = incident_items(store, captured.incident_id, "evidence")
    watch = next(i for i in items if i.title == "process watch")
    data = store.artifact_data(watch.attrs["artifact_id"])
    assert b'"exited": true' in data
    assert {i.title for i in items} >= {"system", "net", f"proc {short.pid}"}
    assert "bench regressions" not in {i.title for i in items}  # no history to look in
    assert store.run(captured.incident_id).status == "ok"


def test_a_pid_that_does_not_exist_is_refused_before_anything_is_written(store):
    with pytest.raises(NoSuchProcess):
        open_incident(store, CaptureOptions("ghost", pids=(2**22 + 7,), profile_s=0))
    assert incidents(store) == []


def test_a_full_disk_stops_the_capture_and_keeps_what_was_written(store, sleeper):
    """SQLite's max_page_count makes the store full exactly as a full disk does
    (SQLITE_FULL): room for the incident and its first small outputs, not for the rest."""
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count = {pages + 6}")
    started = time.monotonic()
    with pytest.raises(StoreFull, match=r"incident \d+: (\d+) steps were kept") as info:
        open_incident(store, CaptureOptions("full", pids=(sleeper.pid,), profile_s=0))
    assert time.monotonic() - started < 120
    [row] = incidents(store)
    kept = [i.attrs["status"] for i in incident_items(store, row.id, "evidence")]
    assert kept
    assert kept == ["ok"] * len(kept)
    assert f"{len(kept)} steps were kept" in str(info.value)
    assert info.value.exit_code == 3
    assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_open_on_the_command_line_prints_findings_and_its_steps(store_path, sleeper):
    from click.testing import CliRunner  # noqa: PLC0415

    from perflab.cli import cli  # noqa: PLC0415

    result = CliRunner().invoke(cli, ["incident", "open", "slow", "--pid", str(sleeper.pid),
                                      "--profile-duration", "0", "--store", str(store_path)])
    assert result.exit_code == 0, result.output
    assert "capturing evidence for 'slow' ..." in result.output
    assert f"  proc {sleeper.pid}: ok" in result.output
    assert "incident 1: slow (open, opened " in result.output
    assert "page: /incidents/1 (perflab serve)" in result.output


def test_the_context_holds_the_suspects_recorded_series_and_red(store):
    from perflab.incident._context import store_context  # noqa: PLC0415
    s = 10**9
    run = store.create_run("record", "r", started_ns=100 * s)
    sid = store.series_id(run.id, "process.rss_bytes", {"pid": "42", "name": "svc"}, "bytes")
    other = store.series_id(run.id, "process.rss_bytes", {"pid": "43", "name": "x"}, "bytes")
    store.insert_samples([(sid, (100 + i) * s, 1e6 * (1 + i)) for i in range(10)]
                         + [(other, 100 * s, 5.0)])
    doc = store_context(store, [42], [], 90 * s, 200 * s)
    rss = doc["metrics"]["42"]["process.rss_bytes"]
    assert (rss["n"], rss["first"], rss["last"]) == (10, 1e6, 1e7)
    assert doc["red"] == {}
    assert doc["logs"]["recent"] == {}


def test_red_per_service_and_call_edges_come_from_stored_spans(store):
    """Entry spans of two services, api calling db; the last minute slower and failing at db:
    the context's RED and edges lead triage to the db."""
    from perflab.incident import triage  # noqa: PLC0415
    from perflab.incident._context import store_context  # noqa: PLC0415
    from perflab.store import SpanCatalog, insert_spans, name_id  # noqa: PLC0415

    s, ms = 10**9, 10**6
    svc = {n: name_id("service", n) for n in ("api", "db")}
    ops = {n: name_id("op", n) for n in ("api", "db")}
    catalog = SpanCatalog(services={v: k for k, v in svc.items()},
                          ops={(ops[n], 2): (svc[n], f"GET /{n}") for n in svc},
                          processes={1: ("api", "{}", "", "")})
    rows: list[tuple[object, ...]] = []
    end = 1000 * s
    for i in range(200):
        recent = i >= 100
        start = end - (600 - 3 * i) * s if not recent else end - (60 - (i - 100) // 2) * s
        trace = i.to_bytes(16, "big")
        slow, failed = (300 * ms, 2) if recent and i % 2 else (5 * ms, 0)
        rows.append((trace, b"\x01" * 8, "", svc["api"], ops["api"], 1, 2, start,
                     slow + 2 * ms, failed, "", 0, "", "", ""))
        rows.append((trace, b"\x02" * 8, b"\x01" * 8, svc["db"], ops["db"], 1, 2, start + ms,
                     slow, failed, "", 0, "", "", ""))
    insert_spans(store, rows, catalog)
    doc = store_context(store, [], ["api"], end - 900 * s, end)
    assert doc["red"]["db"]["recent"]["errors"] == 50
    assert doc["red"]["api"]["suspect"] is True
    assert ["api", "db", 200, 50] in doc["edges"]
    found = triage({"store context": doc}, {}, {"services": ["api"]})
    assert found[0].title == "errors start here: db: errors at 50% of requests"
    assert any(f.title.startswith("slow downstream: db") for f in found)


def test_the_captures_off_cpu_profile_samples_switches_and_its_cpu_profile_does_not(tmp_path):
    from perflab.incident._capture import OFFCPU_SAMPLE, plan  # noqa: PLC0415  # the plan only

    steps = {s.name: s.argv for s in plan(CaptureOptions("t", pids=(42,)), "s.db", 1, tmp_path)}
    off, cpu = steps["offcpu-profile 42"], steps["cpu-profile 42"]
    assert off[off.index("--offcpu-sample") + 1] == str(OFFCPU_SAMPLE)
    assert OFFCPU_SAMPLE > 1
    assert "--offcpu-sample" not in cpu
    exact = plan(CaptureOptions("t", pids=(42,), offcpu_sample=1), "s.db", 1, tmp_path)
    argv = next(s.argv for s in exact if s.name == "offcpu-profile 42")
    assert argv[argv.index("--offcpu-sample") + 1] == "1"  # every switch: the exact profile


def test_every_step_of_a_capture_runs_niced_unless_asked_not_to(tmp_path):
    from perflab.incident._capture import plan  # noqa: PLC0415  # the plan only

    assert {s.nice for s in plan(CaptureOptions("t", pids=(42,)), "s.db", 1, tmp_path)} == {10}
    assert {s.nice for s in plan(CaptureOptions("t", pids=(42,), nice=0), "s.db", 1,
                                 tmp_path)} == {0}

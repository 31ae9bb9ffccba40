"""The Incident page in headless Chromium against a real ``perflab serve``: an incident captured
from a real suspect (its evidence steps), a deploy, an alert and a chaos fault around it, notes
and an action, and its triage's findings render without console errors at 1366 and 800 px, with
nothing overflowing sideways; the timeline chart shows every kind of moment, its marks link
where the table's rows do, and a hostile title stays inert. Screenshots in artifacts/incident/."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _browser import serving, shot

from perflab.incident import CaptureOptions, analyse, open_incident
from perflab.store import CHAOS_FAULT_EVENT, Store, add_incident_item, record_deploy

pytestmark = pytest.mark.integration

S = 10**9
HOSTILE = '<img src=x onerror="window.__pwned=1">'


@pytest.fixture(scope="module")
def incident(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int]]:
    path = tmp_path_factory.mktemp("incident") / "perflab.db"
    suspect = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    try:
        now = time.time_ns()
        with Store.open(path) as store:
            record_deploy(store, "checkout", "v2.4.1", ts_ns=now - 300 * S)
            alerts = store.create_run("record", "alerts", started_ns=now - 600 * S)
            store.add_event(alerts.id, "alert", "CheckoutLatencyHigh firing", ts_ns=now - 240 * S,
                            end_ns=now - 30 * S)
            store.add_event(alerts.id, CHAOS_FAULT_EVENT, "latency 200ms on checkout",
                            ts_ns=now - 200 * S, end_ns=now - 100 * S)
            store.finish_run(alerts.id, ended_ns=now)
            captured = open_incident(store, CaptureOptions(
                f"checkout slow {HOSTILE}", pids=(suspect.pid,), services=("checkout",),
                profile_s=0))
            add_incident_item(store, captured.incident_id, "note",
                              "p99 up from 80 ms to 900 ms since the deploy")
            add_incident_item(store, captured.incident_id, "action", "rolled back to v2.4.0")
            analyse(store, captured.incident_id)
        yield path, captured.incident_id
    finally:
        suspect.kill()
        suspect.wait()


@pytest.mark.parametrize(("width", "dark"), [(1366, False), (800, False), (1366, True)])
def test_the_incident_page_reads_well(incident, new_page, width, dark):
    path, incident_id = incident
    with serving(path, "--no-record") as url:
        p = new_page(area="incident", width=width, dark=dark)
        p.open(f"{url}/incidents/{incident_id}")
        page = p.page
        # first: a failing run leaves its screenshot too
        shot(page, "incident", f"incident-{width}{'-dark' if dark else ''}")
        assert page.evaluate("window.__pwned") is None
        assert HOSTILE in page.locator("h1").inner_text()
        for table in ("incident-findings", "incident-timeline", "incident-evidence"):
            assert page.locator(f"#{table} tbody tr").count() > 0, table
        chart = page.locator("#incident-timeline-chart")
        assert chart.is_visible()
        kinds = set(chart.locator("[data-kind]").evaluate_all(
            "els => els.map(e => e.dataset.kind)"))
        assert {"opened", "alert", "deploy", "fault", "evidence", "finding", "note",
                "action"} <= kinds
        # a mark with a link goes where its table row goes (the deploy's run)
        deploy = chart.locator('a:has([data-kind="deploy"])').first
        row_link = page.locator("#incident-timeline tr.moment-deploy a").first
        assert deploy.get_attribute("href") == row_link.get_attribute("href")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{overflow} px sideways at {width} px"

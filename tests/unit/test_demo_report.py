"""The HTML report shows what a demo run found (from the run's meta), and nothing for others."""

from __future__ import annotations

from perflab.report import render_report


def test_report_has_a_findings_section_for_a_run_with_findings(store):
    run = store.create_run("demo", "demo")
    store.finish_run(run.id, "ok", meta_update={"findings": [
        {"kind": "cpu", "detected": True, "endpoint": "/hash",
         "summary": "CPU: /hash is CPU-hot <script>"},
        {"kind": "lock", "detected": True, "endpoint": "/report", "summary": "lock: ..."},
        {"kind": "leak", "detected": False, "endpoint": None, "summary": "leak: not measured"},
    ]})
    html = render_report(store, run.id)
    assert '<table id="findings">' in html
    assert "CPU: /hash is CPU-hot &lt;script&gt;" in html  # escaped like every value
    assert "leak: not measured" in html
    assert ">not found<" in html
    # in the order the run gave
    assert html.index("<td>cpu</td>") < html.index("<td>lock</td>") < html.index("<td>leak</td>")


def test_report_has_no_findings_section_without_findings(store):
    run = store.create_run("record", "plain")
    store.finish_run(run.id, "ok")
    assert '<table id="findings">' not in render_report(store, run.id)

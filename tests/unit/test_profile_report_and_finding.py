"""The profile of a run in the report (whole-run flame graph, top functions, the diff of the
ranges a finding names) and the demo's profile finding, from slices in a store."""

from __future__ import annotations

import html
import re

from tests._schemas import validate

from _profiledata import S, build
from perflab.demo._findings import Window
from perflab.demo._profiling import GROWTH_MIN_PP, not_measured, profile_finding
from perflab.report import render_report
from perflab.store import Store


def validate_finding(doc: object) -> None:
    validate(doc, "demo#/$defs/profile")


def phases(t0: int) -> tuple[Window, Window]:
    return Window("normal", t0, t0 + 10 * S), Window("cpu", t0 + 10 * S, t0 + 20 * S)


def test_the_finding_names_the_function_whose_share_grew_most(store_path):
    p = build(store_path)
    with Store.open(store_path) as store:
        f = profile_finding(store, p.run_id, *phases(p.t0))
    assert f.detected
    assert f.function == "hot_checksum"
    assert f.share_pct == (0.0, 90.0)
    assert f.growth_pp == 90.0 > GROWTH_MIN_PP
    assert (f.top_in_cpu_phase, f.top_share_pct) == ("hot_checksum", 90.0)
    assert "hot_checksum is the hot function" in f.summary
    doc = f.to_json()
    validate_finding(doc)
    assert doc["ranges"]["a"] == {"label": "normal", "start_ns": p.t0, "end_ns": p.t0 + 10 * S}


def test_slices_straddling_a_phase_edge_are_left_out(store_path):
    p = build(store_path)
    # a "normal" phase from 2 s to 14 s: the slice 10-15 s (CPU phase) straddles its end, the
    # slice 0-5 s its start; only 5-10 s lies wholly inside
    with Store.open(store_path) as store:
        f = profile_finding(store, p.run_id, Window("normal", p.t0 + 2 * S, p.t0 + 14 * S),
                            Window("cpu", p.t0 + 14 * S, p.t0 + 20 * S))
    assert f.function == "hot_checksum"
    assert f.share_pct == (0.0, 90.0)  # the 10-15 s slice would have put it at 45 % of A


def test_no_slices_or_no_py_spy_is_said_not_found(store_path):
    with Store.open(store_path) as store:
        run = store.create_run("demo", "no profile")
        f = profile_finding(store, run.id, *phases(10**18))
    assert not f.detected
    assert "no profile slices cover the normal and CPU phases" in f.summary
    validate_finding(f.to_json())
    missing = not_measured("py-spy is not installed (pip install py-spy)")
    assert missing.summary.startswith("Profile: not measured — py-spy is not installed")
    validate_finding(missing.to_json())


def srcdoc(page: str, element_id: str) -> str:
    m = re.search(rf'id="{element_id}"[^>]*srcdoc="([^"]*)"', page)
    assert m, element_id
    return html.unescape(m.group(1))


def test_report_has_the_whole_run_flame_graph_and_top_functions(store_path):
    p = build(store_path)
    with Store.open(store_path) as store:
        page = render_report(store, p.run_id)
    assert 'id="section-profile"' in page
    assert "4 profile slices (cpu, py-spy, PID 4242)" in page
    whole = srcdoc(page, "profile-flame-whole")
    assert "<canvas" in whole
    assert '"hot_checksum"' in whole
    assert '"calm_loop"' in whole
    top = page[page.index('<table id="profile-top">'):]
    top = top[:top.index("</table>")]
    # own shares of the whole run: hot_checksum 180/280, calm_loop 60/280, parse 40/280
    assert top.index("hot_checksum") < top.index("calm_loop") < top.index("parse")
    assert "64.29%" in top
    assert "profile-flame-diff" not in page  # no finding names two ranges


def test_report_draws_the_diff_of_the_ranges_a_profile_finding_names(store_path):
    p = build(store_path)
    with Store.open(store_path) as store:
        finding = profile_finding(store, p.run_id, *phases(p.t0)).to_json()
        store.finish_run(p.run_id, "ok", ended_ns=p.t0 + 20 * S,
                         meta_update={"findings": [finding]})
        page = render_report(store, p.run_id)
    assert "normal phase → cpu phase" in page
    assert '"diff":true' in srcdoc(page, "profile-flame-diff")
    changes = page[page.index('<table id="profile-changes">'):]
    first_row = changes[changes.index("<tbody>"):].split("</tr>")[0]
    assert "hot_checksum" in first_row
    assert "+90.00 pp" in first_row


def test_runs_without_slices_have_no_profile_section(store):
    run = store.create_run("record", "plain")
    store.finish_run(run.id, "ok")
    assert 'id="section-profile"' not in render_report(store, run.id)


def test_without_py_spy_the_demo_says_so_and_skips_the_finding(monkeypatch, store_path):
    import perflab.profile  # noqa: PLC0415
    from perflab.demo._profiling import start_profiler  # noqa: PLC0415

    monkeypatch.setattr(perflab.profile, "find_tool", lambda _name: None)
    started = start_profiler(store_path, 1, 12345)
    assert started == ("py-spy is not installed (pip install py-spy); the profile finding is "
                       "skipped")

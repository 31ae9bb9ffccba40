"""The flame graph page in headless Chromium: it draws, zooms, searches, resets, flips."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests._schemas import validate

from perflab.cli import main
from perflab.profile import TopOptions, read_profile, top

pytestmark = pytest.mark.integration


def open_page(new_page, path: Path):
    page = new_page(area="flame", width=1200, height=700).page
    page.goto(path.as_uri())
    page.wait_for_function("window.flameReady === true")
    return page


def test_flame_page_zoom_search_reset_icicle(new_page, go_profiles, tmp_path, capsys):
    out = tmp_path / "cpu.html"
    assert main(["flame", str(go_profiles["cpu"]), "-o", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    validate(doc, "profile-flame")
    assert "<script src" not in out.read_text()  # self-contained: nothing to fetch
    page = open_page(new_page, out)
    try:
        # search: the matched share equals hotLoop's cumulative share from pprof top
        page.fill("#search", "hotLoop")
        page.wait_for_function("document.getElementById('matched').textContent !== ''")
        matched = page.text_content("#matched")
        prof = read_profile(go_profiles["cpu"])
        row = next(r for r in top(prof, TopOptions(node_fraction=0)).rows
                   if r.name == "main.hotLoop")
        assert f"{100 * row.cum / prof.total(1):.2f}%" in matched
        # hover shows a tooltip naming the frame; click zooms into it
        box = page.locator("#flame").bounding_box()
        assert box is not None
        # the row above the root ("all"), left edge: runtime.main spans the whole width
        y = box["y"] + box["height"] - 18 - 9
        page.mouse.move(box["x"] + 40, y)
        assert page.is_visible("#tip")
        assert "runtime.main" in page.text_content("#tip")
        page.mouse.click(box["x"] + 40, y)
        assert "runtime.main" in page.text_content("#crumbs")
        page.screenshot(path=str(tmp_path / "zoomed.png"))
        page.click("#reset")
        assert page.text_content("#crumbs") == ""
        assert page.text_content("#matched") == ""
        page.click("#icicle")
        assert page.get_attribute("#icicle", "aria-pressed") == "true"
        # in icicle mode the root row is at the top of the canvas
        page.mouse.move(box["x"] + 40, page.locator("#flame").bounding_box()["y"] + 9)
        assert "all" in page.text_content("#tip")
        assert page.evaluate("window.flameLastDrawMs") < 1000
    finally:
        page.close()


def test_differential_page_and_svg(new_page, go_profiles, go_workload, tmp_path, capsys):
    second = go_workload.workdir / "cpu-second.pb.gz"
    if not second.exists():
        go_workload.run("cpu", str(second), "1")
    out = tmp_path / "diff.html"
    assert main(["profile", "diff", str(go_profiles["cpu"]), str(second), "-o", str(out)]) == 0
    capsys.readouterr()
    page = open_page(new_page, out)
    try:
        assert page.is_visible("#legend")
        assert page.evaluate("window.flame.nodes") > 5
    finally:
        page.close()
    svg = tmp_path / "cpu.svg"
    assert main(["flame", str(go_profiles["cpu"]), "-o", str(svg)]) == 0
    text = svg.read_text()
    assert text.startswith("<svg")
    assert "main.hotLoop" in text

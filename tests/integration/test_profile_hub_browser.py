"""The Run page's Profile panel in headless Chromium: a range selected on a chart shows its
flame graph, two ranges show their diff; no console errors. Screenshots in artifacts/profile/."""

from __future__ import annotations

import pytest
from _browser import serving, shot

from _profiledata import build

pytestmark = pytest.mark.integration

@pytest.fixture(scope="module")
def profiled(tmp_path_factory):
    return build(tmp_path_factory.mktemp("profhub") / "perflab.db")


@pytest.fixture(scope="module")
def server(profiled):
    with serving(profiled.path, "--no-record") as url:
        yield url


def drag(page, chart, frac_a: float, frac_b: float, *, shift: bool = True) -> None:
    """A shift-drag across the plot area of ``chart`` between two fractions of its width."""
    over = chart.locator(".u-over")
    over.scroll_into_view_if_needed()
    box = over.bounding_box()
    y = box["y"] + box["height"] / 2
    if shift:
        page.keyboard.down("Shift")
    page.mouse.move(box["x"] + box["width"] * frac_a, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * (frac_a + frac_b) / 2, y, steps=4)
    page.mouse.move(box["x"] + box["width"] * frac_b, y, steps=4)
    page.mouse.up()
    if shift:
        page.keyboard.up("Shift")


def flame_names(page) -> list[str]:
    frame = page.frame_locator("#profile-flame")
    frame.locator("canvas#flame").wait_for()
    text = frame.locator("#flame-data").text_content(timeout=10_000) or ""
    return [n for n in ("calm_loop", "hot_checksum") if f'"{n}"' in text]


def test_selected_range_shows_its_flame_graph_and_a_diff_of_two_ranges(server, profiled,
                                                                         new_page):
    p = new_page(area="profile", width=1366, height=1000)
    p.open(f"{server}/runs/{profiled.run_id}", ready="chartsReady")
    page = p.page
    panel = page.locator("#profile-panel")
    panel.wait_for(state="visible")
    page.wait_for_function("document.getElementById('profile-panel').dataset.shown"
                           " === 'range'")
    assert "4 slices of PID 4242" in page.locator("#profile-about").inner_text()
    # the whole run at first: both phases
    assert flame_names(page) == ["calm_loop", "hot_checksum"]

    chart = page.locator(".chart").first
    x_before = page.evaluate("perflabRun.charts[0].scales.x.max")
    # the last quarter of the run: only the CPU phase
    drag(page, chart, 0.8, 0.98)
    page.wait_for_function("document.querySelector('#profile-title').textContent"
                           ".includes('UTC (')")
    page.wait_for_function("document.getElementById('profile-panel').dataset.shown"
                           " === 'range'")
    assert flame_names(page) == ["hot_checksum"]
    table = page.locator("#profile-table").inner_text()
    assert table.index("hot_checksum") < table.index("parse")
    # a shift-drag selects, it does not zoom
    assert page.evaluate("perflabRun.charts[0].scales.x.max") == x_before
    page.wait_for_timeout(300)
    shot(panel, "profile", "range")

    # diff: A = the calm first quarter, B = the CPU phase
    page.click("#profile-diff")
    drag(page, chart, 0.03, 0.2)
    page.wait_for_function("document.querySelector('#profile-status').textContent"
                           ".includes('range B')")
    drag(page, chart, 0.8, 0.98)
    page.wait_for_function("document.getElementById('profile-panel').dataset.shown"
                           " === 'diff'")
    frame = page.frame_locator("#profile-flame")
    frame.locator("#legend").wait_for(state="visible")
    rows = page.locator("#profile-table tbody tr")
    first = rows.first.inner_text()
    assert first.split()[0] in ("calm_loop", "hot_checksum")
    assert "hot_checksum" in page.locator("#profile-table").inner_text()
    assert page.locator("#profile-table .delta-up").count() >= 1
    page.wait_for_timeout(300)
    shot(panel, "profile", "diff")
    shot(chart, "profile", "diff-chart")  # the A and B bands
    p.shot("run-page")
    assert p.errors == []


def test_a_run_that_profiled_two_processes_shows_one_at_a_time(tmp_path, new_page):
    from _profiledata import phase_profile  # noqa: PLC0415
    from perflab.profile import StoreSink  # noqa: PLC0415

    data = build(tmp_path / "two.db")
    sink = StoreSink(str(data.path), data.run_id, pid=777)
    sink(data.t0, data.t0 + 20 * 10**9,
         phase_profile("second_process", 5, data.t0), "perf")
    sink.close()
    with serving(data.path, "--no-record") as url:
        p = new_page(area="profile", width=1366, height=1000)
        p.open(f"{url}/runs/{data.run_id}", ready="chartsReady")
        page = p.page
        page.wait_for_function("document.getElementById('profile-panel').dataset.shown"
                               " === 'range'")
        pick = page.locator("#profile-pid")
        assert pick.is_visible()
        assert pick.locator("option").all_inner_texts() == ["PID 777", "PID 4242"]
        assert "second_process" in page.locator("#profile-table").inner_text()
        page.evaluate("document.getElementById('profile-panel').dataset.shown = ''")
        pick.select_option("4242")
        page.wait_for_function("document.getElementById('profile-panel').dataset.shown"
                               " === 'range'")
        table = page.locator("#profile-table").inner_text()
        assert "second_process" not in table
        assert "hot_checksum" in table
        assert p.errors == []

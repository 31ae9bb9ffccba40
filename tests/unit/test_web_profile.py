"""The hub's profile API: slices, the profile of a range, the diff of two ranges, flame pages."""

from __future__ import annotations

import pytest
from _webclient import hub_client
from tests._schemas import validate

from _profiledata import S, build


@pytest.fixture
def profiled(store_path):
    return build(store_path)


@pytest.fixture
def client(profiled):
    with hub_client(profiled.path, rollups=False) as c:
        yield c


def test_slices_list_every_window_with_its_pid_and_backend(client, profiled):
    doc = client.get(f"/api/runs/{profiled.run_id}/profile/slices").json()
    validate(doc, "api-profile_slices")
    assert [(s["start_ns"] - profiled.t0) // S for s in doc["slices"]] == [0, 5, 10, 15]
    assert {(s["pid"], s["backend"], s["name"]) for s in doc["slices"]} == {
        (4242, "py-spy", "cpu")}
    assert [s["samples"] for s in doc["slices"]] == [40, 40, 100, 100]


def test_range_merges_the_overlapping_slices(client, profiled):
    t0 = profiled.t0
    whole = client.get(f"/api/runs/{profiled.run_id}/profile").json()
    validate(whole, "api-profile")
    assert whole["slices"] == 4
    assert whole["total"] == (2 * 40 + 2 * 100) * 10_000_000
    # 12 s .. 13 s lies in the third slice only: the CPU phase
    late = client.get(f"/api/runs/{profiled.run_id}/profile",
                      params={"start": t0 + 12 * S, "end": t0 + 13 * S, "limit": 2}).json()
    validate(late, "api-profile")
    assert late["slices"] == 1
    assert [f["name"] for f in late["functions"]] == ["hot_checksum", "parse"]
    assert late["functions"][0]["self_pct"] == pytest.approx(90.0)
    # 4 s .. 6 s overlaps the first two slices
    two = client.get(f"/api/runs/{profiled.run_id}/profile",
                     params={"start": t0 + 4 * S, "end": t0 + 6 * S}).json()
    assert two["slices"] == 2


def test_diff_names_the_function_whose_share_grew(client, profiled):
    t0 = profiled.t0
    doc = client.get(f"/api/runs/{profiled.run_id}/profile/diff", params={
        "a_start": t0, "a_end": t0 + 10 * S, "b_start": t0 + 10 * S, "b_end": t0 + 20 * S,
        "limit": 3}).json()
    validate(doc, "api-profile_diff")
    first = doc["changes"][0]
    assert first["name"] == "hot_checksum"
    assert first["self_delta_pp"] == pytest.approx(90.0)
    by_name = {c["name"]: c for c in doc["changes"]}
    assert by_name["calm_loop"]["self_delta_pp"] == pytest.approx(-75.0)
    assert (doc["a"]["slices"], doc["b"]["slices"]) == (2, 2)


def test_flame_pages_of_a_range_and_of_a_diff(client, profiled):
    t0 = profiled.t0
    page = client.get(f"/runs/{profiled.run_id}/flame",
                      params={"start": t0 + 11 * S, "end": t0 + 12 * S})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '"hot_checksum"' in page.text
    assert '"calm_loop"' not in page.text
    diff = client.get(f"/runs/{profiled.run_id}/flame/diff", params={
        "a_start": t0, "a_end": t0 + 5 * S, "b_start": t0 + 15 * S, "b_end": t0 + 20 * S})
    assert diff.status_code == 200
    assert '"diff":true' in diff.text


@pytest.mark.parametrize(("url", "status", "message"), [
    ("/api/runs/{run}/profile?start=100&end=50", 400, "end must be after start"),
    ("/api/runs/{run}/profile?start=yesterday", 400, "start must be"),
    ("/api/runs/{run}/profile?limit=0", 400, "limit must be between"),
    ("/api/runs/{run}/profile?start=1&end=2", 404, "no profile slices in that range"),
    ("/api/runs/999/profile", 404, "no run 999"),
    ("/api/runs/abc/profile/slices", 400, "a run id is an integer"),
    ("/api/runs/{run}/profile/diff?a_start=1&a_end=2", 404, "no profile slices"),
])
def test_bad_parameters_and_empty_ranges_are_refused_with_a_reason(client, profiled, url,
                                                                   status, message):
    r = client.get(url.format(run=profiled.run_id))
    assert r.status_code == status
    validate(r.json(), "api-error")
    assert message in r.json()["error"]


def test_a_flame_page_with_nothing_in_range_says_why(client, profiled):
    r = client.get(f"/runs/{profiled.run_id}/flame?start=1&end=2")
    assert r.status_code == 404
    assert "no profile slices in that range" in r.text


def test_a_run_without_profiles_has_no_slices(client, store_path):
    from perflab.store import Store  # noqa: PLC0415

    with Store.open(store_path) as store:
        run = store.create_run("record", "plain")
    assert client.get(f"/api/runs/{run.id}/profile/slices").json()["slices"] == []
    assert client.get(f"/api/runs/{run.id}/profile").status_code == 404


def test_a_slice_stored_after_a_read_is_in_the_next_read(client, profiled):
    """Merged ranges are kept between requests; a new slice makes a new range."""
    from _profiledata import phase_profile  # noqa: PLC0415
    from perflab.profile import StoreSink  # noqa: PLC0415

    url = f"/api/runs/{profiled.run_id}/profile"
    before = client.get(url).json()
    sink = StoreSink(str(profiled.path), profiled.run_id, pid=4242)
    start = profiled.t0 + 20 * S
    sink(start, start + 5 * S, phase_profile("late_function", 50, start), "py-spy")
    sink.close()
    after = client.get(url).json()
    assert after["slices"] == before["slices"] + 1
    assert "late_function" in [f["name"] for f in after["functions"]]


def test_pid_keeps_one_process_of_a_run_that_profiled_two(client, profiled):
    from _profiledata import phase_profile  # noqa: PLC0415
    from perflab.profile import StoreSink  # noqa: PLC0415

    sink = StoreSink(str(profiled.path), profiled.run_id, pid=777)
    sink(profiled.t0, profiled.t0 + 5 * S, phase_profile("other_process", 5, profiled.t0),
         "perf")
    sink.close()
    url = f"/api/runs/{profiled.run_id}/profile"
    names = lambda doc: {f["name"] for f in doc["functions"]}  # noqa: E731
    assert "other_process" in names(client.get(url).json())
    mine = client.get(url, params={"pid": 4242}).json()
    assert mine["slices"] == 4
    assert "other_process" not in names(mine)
    other = client.get(url, params={"pid": 777}).json()
    assert (other["slices"], "other_process" in names(other)) == (1, True)
    assert client.get(url, params={"pid": 5}).status_code == 404
    assert client.get(url, params={"pid": "x"}).status_code == 400

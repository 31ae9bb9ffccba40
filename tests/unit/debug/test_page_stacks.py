"""The Debug section's goroutines, stacks and race parts: findings with their stacks, counts over
time, the wait-for graph; hostile names shown inert."""

import itertools
import json
from pathlib import Path

from tests.unit.debug._gotexts import MAIN
from tests.unit.debug.test_goroutines_find import _deadlocked

from perflab.cli import main
from perflab.debug import debug_section_html
from perflab.debug import python_stacks_from_agent as from_agent
from perflab.store import Store

LOG = (Path(__file__).parent.parent.parent / "fixtures" / "debug" / "logs" / "race.log")


def test_goroutines_and_race_findings_show_with_their_stacks(tmp_path, capsys, store_path):
    dump = tmp_path / "d.txt"
    hostile = MAIN.replace("goroutine 1 ", "goroutine 77 ").replace("main.main", "main.<script>x")
    dump.write_text(_deadlocked() + "\n" + hostile.replace("main.go:30", "main.go:31"))
    main(["goroutines", str(dump), "--store", str(store_path), "--json"])
    run_id = json.loads(capsys.readouterr().out)["run"]
    main(["race", "--log", str(LOG), "--run", str(run_id), "--store", str(store_path)])
    with Store.open(store_path) as store:
        html = str(debug_section_html(store, store.run(run_id)))
    assert "Deadlock (likely)" in html
    assert "main.transferAB" in html
    assert "main.&lt;script&gt;x" in html
    assert "<script>" not in html
    assert "main.recordHit" in html
    assert 'id="gr-' in html
    assert "goroutines of " + str(dump) + " by state" in html


def test_counts_over_time_and_the_wait_for_graph(store_path):
    threads = [{"thread": 1, "name": "ab", "stack": [
                   {"function": "transfer_ab", "file": "/app.py", "line": 37}],
                "holds": [11], "waits_for": 12},
               {"thread": 2, "name": "ba", "stack": [
                   {"function": "transfer_ba", "file": "/app.py", "line": 48}],
                "holds": [12], "waits_for": 11}]
    locks = {"watching": True, "held": [{"thread": 1, "serial": 11, "lock": "A"},
                                        {"thread": 2, "serial": 12, "lock": "B"}],
             "waiting": [], "inversions": [], "long_holds": []}
    doc = {"schema": "perflab.stacks/1", "run": 0, **from_agent(5, threads, locks).to_json()}
    with Store.open(store_path) as store:
        run = store.create_run("stacks", "s")
        store.add_artifact(run.id, "stacks", json.dumps(doc).encode())
        for i, n in enumerate((3, 5, 9)):
            sid = store.series_id(run.id, "go_goroutines",
                                  {"state": "chan receive", "target": "http://x"})
            store.insert_samples([(sid, 1_800_000_000_000_000_000 + i * 10**9, float(n))])
        html = str(debug_section_html(store, run))
    assert "goroutines of http://x by state" in html
    assert "Deadlock (certain)" in html
    assert html.count("<line ") == 2
    assert 'href="#th-' in html


def test_the_run_page_and_the_report_show_the_goroutines_part(tmp_path, capsys, store_path):
    from tests.unit._webclient import client_class  # noqa: PLC0415

    from perflab.report import render_report  # noqa: PLC0415
    from perflab.web import AppConfig, create_app  # noqa: PLC0415

    dump = tmp_path / "d.txt"
    dump.write_text(_deadlocked())
    main(["goroutines", str(dump), "--store", str(store_path), "--json"])
    run_id = json.loads(capsys.readouterr().out)["run"]
    with Store.open(store_path) as store:
        report = render_report(store, run_id)
    assert "debug-stacks" in report
    app = create_app(AppConfig(store_path=store_path, record=False, rollups=False))
    with client_class()(app) as client:
        page = client.get(f"/runs/{run_id}")
    assert page.status_code == 200
    assert 'id="section-debug"' in page.text
    assert "Deadlock (likely)" in page.text


def test_a_pile_up_on_one_lock_is_drawn_as_a_fan_with_short_labels():
    """Five threads waiting for the one holding a lock: the holder on top, the waiters in one
    row below, each labelled by its short name (the whole name as its tooltip)."""
    from perflab.debug._page_stacks import _wait_graph  # noqa: PLC0415  # the layout itself

    threads = [{"thread": t, "name": f"Thread-{t} (process_request_thread)"} for t in range(1, 7)]
    edges = [{"waiter": t, "holder": 1, "lock": "L"} for t in range(2, 7)]
    graph = _wait_graph({"wait_for": edges, "threads": threads, "deadlocks": []})
    assert graph is not None
    by_id = {n["id"]: n for n in graph["nodes"]}
    assert by_id[1]["y"] < min(by_id[t]["y"] for t in range(2, 7))
    assert len({by_id[t]["y"] for t in range(2, 7)}) == 1
    xs = sorted(by_id[t]["x"] for t in range(2, 7))
    assert min(b - a for a, b in itertools.pairwise(xs)) >= 100  # room for each label
    assert by_id[3]["label"] == "Thread-3"
    assert by_id[3]["name"] == "Thread-3 (process_request_thread)"

"""perflab load capacity against a test server of known capacity (slots / service time)."""

from __future__ import annotations

import json

import pytest
from tests._schemas import validate

from perflab.cli import main
from perflab.store import Store

pytestmark = [pytest.mark.integration, pytest.mark.alone]

SERVICE_S = 0.05
SLOTS = 10
CAPACITY = SLOTS / SERVICE_S  # 200/s: what the server can serve, by construction


def test_the_search_finds_the_knee_of_a_known_capacity(test_server, store_path, capsys):
    server = test_server("--service-time", f"{SERVICE_S}s", "--slots", str(SLOTS))
    rc = main(["load", "capacity", server.url + "/", "--threshold", "p99<150ms",
               "--threshold", "error_rate<0.1%", "--start-rate", "25", "--step", "3s",
               "--workers", "1", "--pid", str(server.pid), "--scale-param", str(SLOTS),
               "--store", str(store_path), "--json"])
    doc = validate(json.loads(capsys.readouterr().out), "load-capacity")
    assert rc == 0
    knee = doc["knee"]
    # never above what the server can do; below it only when a busy machine's scheduling
    # hiccups failed a step early (the knee within 5 % on a quiet machine is a figure of
    # benchmarks/bench_load_capacity.py, not of this test)
    assert CAPACITY * 0.5 <= knee["rate"] <= CAPACITY * 1.05
    # the server sleeps: no CPU, no memory growth; its slots (a pool) are what ran out
    assert knee["resource"] == "concurrency"
    assert knee["upper_rate"] > knee["rate"]
    rates = [p["rate"] for p in doc["curve"]]
    assert rates == sorted(rates)
    assert all(p["cpu_pct"] is not None for p in doc["curve"])
    assert doc["usl"] is None  # one size only
    assert any("3 --scale-param sizes" in w for w in doc["warnings"])
    store = Store.open(store_path)
    try:
        run = store.run(doc["run_id"])
        assert run.kind == "capacity"
        assert run.status == "ok"
        assert run.meta["capacity"]["knee"] == knee
        names = {a.name for a in store.artifacts(run.id, kind="load_summary")}
        assert "warm-up" in names
        assert len(names) == len(doc["curve"]) + 1
    finally:
        store.close()


def test_knees_at_three_sizes_give_the_usl_fit(store_path):
    """Earlier searches of the same URL at other --scale-param sizes are fitted with this one
    (their documents written as a search stores them)."""
    from perflab.load._capacity import CapacityOptions, CapacityResult, _fit  # noqa: PLC0415

    store = Store.open(store_path)
    try:
        for size, rps in ((1.0, 100.0), (2.0, 180.0)):
            run = store.create_run("capacity", f"c{size}")
            store.finish_run(run.id, "ok", meta_update={"capacity": {
                "url": "http://127.0.0.1:1/", "scale_param": size,
                "knee": {"rate": rps, "rps": rps, "resource": "cpu", "upper_rate": None}}})
        opts = CapacityOptions(url="http://127.0.0.1:1/", thresholds=("p99<1s",),
                               scale_param=4.0)
        result = CapacityResult(0, "http://127.0.0.1:1/", "ok", opts,
                                knee={"rate": 300.0, "rps": 300.0, "resource": "cpu",
                                      "upper_rate": 310.0})
        fit = _fit(store, opts, result, run_id=-1)
    finally:
        store.close()
    assert fit is not None
    assert [p[0] for p in fit.points] == [1.0, 2.0, 4.0]
    assert fit.predict(2) == pytest.approx(180.0, rel=0.01)


def test_bad_input_is_one_line_and_leaves_no_run(test_server, store_path, capsys):
    server = test_server()
    assert main(["load", "capacity", server.url + "/", "--store", str(store_path)]) == 2
    assert main(["load", "capacity", server.url + "/", "--threshold", "p99<1s",
                 "--pid", "999999999", "--store", str(store_path)]) == 3
    assert main(["load", "capacity", "http://127.0.0.1:9/", "--threshold", "p99<1s",
                 "--store", str(store_path)]) == 3
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.count("perflab: error:") == 3
    store = Store.open(store_path)
    try:
        assert store.runs(kind="capacity") == []
    finally:
        store.close()


def test_match_finds_the_target_and_max_rate_caps_the_search(test_server, store_path, capsys):
    # a service time no other test server on this machine runs with: --match finds this one
    server = test_server("--service-time", "0.0137s", "--slots", "50")
    rc = main(["load", "capacity", server.url + "/", "--threshold", "p99<1s",
               "--start-rate", "20", "--max-rate", "40", "--step", "1s", "--workers", "1",
               "--match", "0.0137s", "--store", str(store_path), "--json"])
    doc = validate(json.loads(capsys.readouterr().out), "load-capacity")
    assert rc == 0
    assert doc["pids"] == [server.pid]
    assert [p["rate"] for p in doc["curve"]] == [20, 40]
    assert doc["knee"] == {"rate": 40, "rps": doc["curve"][1]["rps"], "resource": "none",
                           "upper_rate": None}
    assert main(["load", "capacity", server.url + "/", "--threshold", "p99<1s",
                 "--match", "no-such-process-name-xyz", "--store", str(store_path)]) == 2


def test_stopping_keeps_the_steps_measured(test_server, store_path):
    import threading  # noqa: PLC0415

    from perflab.load import CapacityOptions, WorkerPool, search_capacity  # noqa: PLC0415

    server = test_server()
    stop = threading.Event()
    store = Store.open(store_path)
    try:
        with WorkerPool() as pool:
            result = search_capacity(
                CapacityOptions(url=server.url + "/", thresholds=("p99<1s",), step_s=1.0),
                store=store, workers=pool, stop=stop, on_step=lambda _p: stop.set())
        run = store.run(result.run_id)
    finally:
        store.close()
    assert result.status == "aborted"
    assert run.status == "aborted"
    assert len(result.curve) == 1
    assert run.meta["capacity"]["curve"] == result.curve


_MIX = """
from perflab.load import Scenario

browse = Scenario("browse", base_url="{url}", rate=3)
buy = Scenario("buy", base_url="{url}", rate=1)

@browse.task()
async def items(s):
    await s.get("/items", name="items")

@buy.task()
async def home(s):
    await s.get("/", name="home")
"""


def test_a_scenario_files_mix_is_driven_to_its_knee(test_server, store_path, tmp_path, capsys):
    """-s: the search scales every open scenario's rate= to the step's total (3:1 here), so
    the knee is the mix's arrival rate: the server's capacity, as for one URL."""
    server = test_server("--service-time", f"{SERVICE_S}s", "--slots", str(SLOTS))
    scenario = tmp_path / "mix.py"
    scenario.write_text(_MIX.format(url=server.url))
    rc = main(["load", "capacity", "-s", str(scenario), "--threshold", "p99<150ms",
               "--threshold", "error_rate<0.1%",
               "--start-rate", "50", "--step", "2s", "--precision", "5%", "--workers", "1",
               "--store", str(store_path), "--json"])
    doc = validate(json.loads(capsys.readouterr().out), "load-capacity")
    assert rc == 0
    assert doc["scenario"] == str(scenario.resolve())
    assert doc["url"] == server.url
    # without the scaling every step would send the file's 4/s and pass: no knee near 200
    # (below the capacity only when a busy machine's hiccups failed a step early)
    assert CAPACITY * 0.5 <= doc["knee"]["rate"] <= CAPACITY * 1.1
    assert doc["knee"]["upper_rate"] is not None
    for p in doc["curve"]:
        if p["passed"]:
            assert p["rps"] == pytest.approx(p["rate"], rel=0.15)
    store = Store.open(store_path)
    try:
        knee_step = next(p["step"] for p in doc["curve"] if p["rate"] == doc["knee"]["rate"])
        summary = next(a for a in store.artifacts(doc["run_id"], kind="load_summary")
                       if a.name.startswith(f"step {knee_step}:"))
        by_name = json.loads(store.artifact_data(summary.id))["requests_by_name"]
    finally:
        store.close()
    assert by_name["items"]["requests"] / by_name["home"]["requests"] == pytest.approx(3, rel=0.2)


def test_a_scenario_the_search_cannot_drive_is_refused(test_server, store_path, tmp_path,
                                                       capsys):
    server = test_server()
    closed = tmp_path / "closed.py"
    closed.write_text(_MIX.format(url=server.url).replace("rate=1", "connections=2"))
    bare = tmp_path / "bare.py"
    bare.write_text(_MIX.format(url=server.url))
    assert main(["load", "capacity", "-s", str(closed), "--threshold", "p99<1s",
                 "--store", str(store_path)]) == 2
    assert main(["load", "capacity", "-s", str(bare), "--store", str(store_path)]) == 2
    assert main(["load", "capacity", "--threshold", "p99<1s", "--store", str(store_path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.count("perflab: error:") == 3
    assert "scenario 'buy' has a closed model" in err
    assert "at least one threshold" in err
    assert "give a URL or a scenario file" in err
    store = Store.open(store_path)
    try:
        assert store.runs(kind="capacity") == []
    finally:
        store.close()

"""`perflab gotrace --url` on the deadlock service with the deadlock off, under load: the sync
blocking profile (two traces added up) names the two functions that contend for the mutexes, a
flame graph is written per profile with samples, and each trace's totals are a point of the
run's timeline."""

from __future__ import annotations

import json
import threading

from tests.integration.debug._goprogs import service
from tests.integration.debug.test_goroutines_go import _get
from tests.unit.debug._schema import validate

from perflab.cli import main
from perflab.store import Store


def test_sync_blocking_names_the_contending_functions(capsys, tmp_path, store_path):
    with service("deadlock", DEADLOCK="off") as base:
        stop = threading.Event()

        def traffic(path: str) -> None:
            while not stop.is_set():
                _get(f"{base}{path}")

        workers = [threading.Thread(target=traffic, args=(p,)) for p in ("/ab", "/ba") * 4]
        for w in workers:
            w.start()
        try:
            code = main(["gotrace", "--url", base, "--seconds", "1", "--slices", "2",
                         "-o", str(tmp_path), "--store", str(store_path), "--json"])
        finally:
            stop.set()
            for w in workers:
                w.join()
    doc = json.loads(capsys.readouterr().out)
    validate(doc, "gotrace")
    assert code == 0
    sync = next(p for p in doc["profiles"] if p["kind"] == "sync")
    # The program's own functions that block most are the two lock-order transfers; on a busy
    # machine the runtime's own waits (runtime.selectgo) can rank among them, so they are left out.
    own = [t["function"] for t in sync["top"] if t["function"].startswith("main.")]
    assert set(own[:2]) == {"main.transferAB", "main.transferBA"}
    assert (tmp_path / "trace-1s-2.out.sync.html").is_file()
    with Store.open(store_path) as store:
        series = store.series(doc["run"], name="go_trace_blocking_seconds")
        points = {s.labels["profile"]: len(store.samples(s.id)) for s in series}
    # one point per trace and kind: scheduler latency and blocking on the timeline
    assert points == {"net": 2, "sync": 2, "syscall": 2, "sched": 2}


def test_a_file_that_is_not_a_trace_is_refused(capsys, tmp_path, store_path):
    bad = tmp_path / "x.out"
    bad.write_bytes(b"hello, not a trace")
    assert main(["gotrace", str(bad), "--store", str(store_path)]) == 2
    assert "not a Go execution trace" in capsys.readouterr().err

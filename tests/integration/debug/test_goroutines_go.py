"""`perflab goroutines` on real Go services with planted faults: a goroutine leak on a channel
and a two-mutex partial deadlock under load while /healthz answers. Each fault is found with the
planted function named first; with the fault switched off there is no finding."""

from __future__ import annotations

import json
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from tests.integration.debug._goprogs import service

from perflab.cli import main
from perflab.debug import load_goroutine_dump


def _get(url: str, timeout: float = 2.0) -> str:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # loopback
            return resp.read().decode()
    except OSError:
        return ""  # a request stuck behind the deadlock: it times out, as its client would


def _load(base: str, n: int = 40) -> None:
    """Bounded loopback traffic: n requests to each of /ab and /ba, 16 at a time."""
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(_get, [f"{base}/ab" if i % 2 else f"{base}/ba" for i in range(2 * n)]))


def _goroutines(capsys, *args: str) -> tuple[int, dict]:
    code = main(["goroutines", *args, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_two_mutex_deadlock_is_found_while_healthz_answers(capsys, store_path):
    with service("deadlock") as base:
        _load(base)
        assert _get(f"{base}/healthz") == "ok\n"
        code, doc = _goroutines(capsys, base, "--store", str(store_path))
    assert code == 1
    (finding,) = doc["deadlocks"]
    assert finding["confidence"] == "likely"
    functions = [m["function"] for m in finding["members"]]
    assert sorted(functions) == ["main.transferAB", "main.transferBA"]
    held = {m["function"]: m["holds"] for m in finding["members"]}
    wanted = {m["function"]: m["wants"] for m in finding["members"]}
    assert held["main.transferAB"] == wanted["main.transferBA"]
    assert held["main.transferBA"] == wanted["main.transferAB"]


def test_one_lock_order_under_the_same_load_is_no_deadlock(capsys, store_path):
    with service("deadlock", DEADLOCK="off") as base:
        _load(base)
        code, doc = _goroutines(capsys, base, "--store", str(store_path))
    assert (code, doc["deadlocks"]) == (0, [])


def _settled(base: str, want: int, deadline_s: float = 30.0) -> None:
    """Wait until the service's goroutine count is ``want`` (closed connections' goroutines end
    a moment after the client leaves)."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if len(load_goroutine_dump(base).goroutines) == want:
            return
        time.sleep(0.2)


def _leak_check(capsys, tmp_path, store_path, **env: str) -> tuple[int, dict]:
    with service("goroutine_leak", **env) as base:
        first = load_goroutine_dump(base)
        base_file = tmp_path / "before.txt"
        base_file.write_text(_get(f"{base}/debug/pprof/goroutine?debug=2"))
        for _ in range(20):
            assert _get(f"{base}/work") == "ok\n"
        if env.get("LEAK") == "off":
            _settled(base, len(first.goroutines))
        else:
            _settled(base, len(first.goroutines) + 20)
        # the dump requests' own connections come and go: a group must gain 5 to be a leak
        return _goroutines(capsys, base, "--diff", str(base_file), "--min-growth", "5",
                           "--store", str(store_path))


def test_a_goroutine_leak_on_a_channel_is_found_by_diff(capsys, tmp_path, store_path):
    code, doc = _leak_check(capsys, tmp_path, store_path)
    assert code == 1
    first = doc["diff"]["changes"][0]
    assert (first["function"], first["growth"], first["leak"]) == ("main.leakyWorker", 20, True)
    assert first["created_by"]["function"] == "main.handleWork"


def test_no_leak_when_every_worker_gets_its_result(capsys, tmp_path, store_path):
    code, doc = _leak_check(capsys, tmp_path, store_path, LEAK="off")
    assert (code, doc["diff"]["leaks"]) == (0, 0), doc["diff"]


def test_record_watches_goroutines_by_state_on_the_timeline(capsys, store_path):
    """A leak seen on the run: the goroutine_leak service's chan-receive count grows."""
    import threading  # noqa: PLC0415

    from perflab.store import Store  # noqa: PLC0415

    with service("goroutine_leak") as base:
        stop = threading.Event()

        def traffic() -> None:
            while not stop.wait(0.05):
                _get(f"{base}/work")

        t = threading.Thread(target=traffic)
        t.start()
        try:
            code = main(["record", "-d", "3s", "--watch-goroutines", base,
                         "--watch-interval", "1s", "--store", str(store_path), "--json"])
        finally:
            stop.set()
            t.join()
    assert code == 0
    run_id = json.loads(capsys.readouterr().out)["run"]["id"]
    with Store.open(store_path) as store:
        (leaking,) = [s for s in store.series(run_id, name="go_goroutines")
                      if s.labels["state"] == "chan receive"]
        values = [v for _, v in store.samples(leaking.id)]
    assert len(values) >= 2
    assert values[-1] > values[0]

"""lockwatch in a fresh interpreter (it replaces threading.Lock/RLock, which the test process
must keep): inversions found before they deadlock, long holds, and every threading primitive
still working on watched locks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from perflab.debug import python_stacks_from_agent as from_agent
from perflab.debug._stacks import _cycles

SRC = str(Path(__file__).parent.parent.parent.parent / "src")


def _run(code: str) -> dict:
    """Run ``code`` after lockwatch(report=None); it must print one JSON document."""
    return _run_full(code)[0]


def _run_full(code: str) -> tuple[dict, str]:
    """``_run``, and what the program wrote on stderr."""
    prelude = "from perflab.debug._lockwatch import lockwatch, locks\n"
    env = {**os.environ, "PYTHONPATH": SRC}
    done = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], env=env,
                          capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout), done.stderr


ORDERS = """
    import json, threading
    lockwatch(report=None, hold_threshold={threshold})
    a, b = threading.Lock(), threading.Lock()

    def transfer_ab():
        with a:
            with b:
                pass

    def transfer_ba():
        with {first}:
            with {second}:
                pass

    for fn in (transfer_ab, transfer_ba):
        t = threading.Thread(target=fn); t.start(); t.join()
    print(json.dumps(locks({{}})))
"""


def test_an_inversion_is_reported_before_it_ever_deadlocks():
    doc = _run(ORDERS.format(threshold=1000, first="b", second="a"))
    (inv,) = doc["inversions"]
    assert inv["functions"] == ["transfer_ba", "transfer_ab"]
    assert "transfer_ab" in inv["before"]["stack"][0]
    assert doc["long_holds"] == []


def test_one_order_is_no_inversion():
    assert _run(ORDERS.format(threshold=1000, first="a", second="b"))["inversions"] == []


def test_holds_over_the_threshold_are_counted_by_site():
    doc = _run(ORDERS.format(threshold=0, first="a", second="b"))
    functions: dict[str, int] = {}
    for hold in doc["long_holds"]:  # one entry per site: each function takes two locks
        name = hold["site"].split(" (")[0]
        functions[name] = functions.get(name, 0) + hold["count"]
    assert (functions["transfer_ab"], functions["transfer_ba"]) == (2, 2)


def test_conditions_rlocks_events_and_queues_work_on_watched_locks():
    doc = _run("""
        import json, queue, threading
        lockwatch(report=None)
        r = threading.RLock()
        with r:
            with r:
                nested = r._is_owned()
        cond = threading.Condition()
        items = []
        def produce():
            with cond:
                items.append(1)
                cond.notify()
        with cond:
            threading.Thread(target=produce).start()
            cond.wait_for(lambda: items, timeout=30)
        q = queue.Queue()
        threading.Thread(target=q.put, args=(5,)).start()
        ev = threading.Event()
        threading.Thread(target=ev.set).start()
        print(json.dumps({"nested": nested, "items": items, "q": q.get(timeout=30),
                          "ev": ev.wait(30), "kind": type(r).__name__,
                          "held": locks({})["held"]}))
    """)
    assert doc == {"nested": True, "items": [1], "q": 5, "ev": True, "kind": "_WatchedRLock",
                   "held": []}


def test_a_wait_for_cycle_from_the_agent_is_a_certain_deadlock():
    threads = [{"thread": 1, "name": "ab", "stack": [
                   {"function": "acquire", "file": "/x/perflab/debug/_lockwatch.py", "line": 9},
                   {"function": "transfer_ab", "file": "/app.py", "line": 37}],
                "holds": [11], "waits_for": 12},
               {"thread": 2, "name": "ba", "stack": [
                   {"function": "transfer_ba", "file": "/app.py", "line": 48}],
                "holds": [12], "waits_for": 11},
               {"thread": 3, "name": "main", "stack": [], "holds": [], "waits_for": None}]
    locks = {"watching": True, "held": [
        {"thread": 1, "serial": 11, "lock": "A"}, {"thread": 2, "serial": 12, "lock": "B"}],
        "waiting": [], "inversions": [], "long_holds": []}
    report = from_agent(99, threads, locks)
    assert report.cycles == [[1, 2]]
    assert [t.function for t in report.threads[:2]] == ["transfer_ab", "transfer_ba"]
    assert report.found


def test_a_chain_without_a_cycle_is_no_deadlock():
    assert _cycles([(1, 2, "A"), (2, 3, "B")]) == []
    assert _cycles([(5, 6, "A"), (6, 7, "B"), (7, 6, "C")]) == [[6, 7]]


def test_a_forked_child_of_a_watched_process_starts_threads():
    """threading re-initialises the forking thread's locks in the child (_at_fork_reinit): a
    thread started after lockwatch has watched ones."""
    doc, stderr = _run_full("""
        import json, os, threading
        lockwatch(report=None)
        out = {}

        def fork_here():
            pid = os.fork()
            if pid == 0:
                t = threading.Thread(target=lambda: None); t.start(); t.join()
                os._exit(0)
            out["child"] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])

        t = threading.Thread(target=fork_here); t.start(); t.join()
        print(json.dumps(out))
    """)
    assert doc == {"child": 0}
    assert "Exception ignored" not in stderr

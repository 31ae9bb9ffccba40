"""lockwatch in a fresh interpreter (it replaces threading.Lock/RLock, which the test process
must keep): inversions found before they deadlock, long holds, and every threading primitive
still working on watched locks."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import sysconfig
import textwrap
import threading
from pathlib import Path

import pytest
from tests.conftest import require_tool

from perflab.debug import python_stacks_from_agent as from_agent
from perflab.debug._stacks import _cycles

SRC = str(Path(__file__).parent.parent.parent.parent / "src")


@pytest.fixture(autouse=True, params=["c", "python"])
def books(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Every program below runs on both books: the C ones (built here, into a fresh cache, by
    the first program of each test that asks) and the Python ones."""
    if request.param == "c":
        require_tool("gcc")
    monkeypatch.setenv("PERFLAB_LOCKWATCH_ENGINE", request.param)
    monkeypatch.setenv("PERFLAB_EXT_CACHE", str(tmp_path / "ext"))
    return str(request.param)


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


def test_the_standard_librarys_own_locks_stay_plain():
    """Only the program's locks are watched: those the standard library makes for its own
    objects (a Thread's, an Event's, a Queue's, logging's, concurrent.futures') are not, and
    cost nothing; a Condition made without a lock is the program's."""
    doc = _run("""
        import concurrent.futures, json, logging, queue, threading
        lockwatch(report=None)

        def watched(lock):
            return type(lock).__name__.startswith("_Watched")

        class Pool(threading.Condition):
            pass

        own = threading.Lock()
        print(json.dumps({
            "program": [watched(x) for x in (own, threading.RLock(), threading.Condition()._lock,
                                             threading.Condition(own)._lock, Pool()._lock)],
            "stdlib": [watched(x) for x in (
                queue.Queue().mutex, threading.Event()._cond._lock,
                threading.Thread()._started._cond._lock, threading.Semaphore()._cond._lock,
                threading.Barrier(2)._cond._lock, logging.Handler().lock,
                concurrent.futures.Future()._condition._lock)],
        }))
    """)
    assert doc == {"program": [True] * 5, "stdlib": [False] * 7}


def test_a_lock_made_by_a_module_outside_the_standard_library_is_watched(tmp_path):
    (tmp_path / "shop.py").write_text("import threading\n\ndef make():\n"
                                      "    return threading.Lock()\n")
    doc = _run(f"""
        import json, sys
        sys.path.insert(0, {str(tmp_path)!r})
        lockwatch(report=None)
        import shop
        print(json.dumps({{"lock": repr(shop.make())}}))
    """)
    assert doc["lock"].startswith("<watched Lock #")
    assert "shop.py:4" in doc["lock"]


def test_which_files_are_the_standard_librarys():
    from perflab.debug._lockwatch import _in_stdlib  # noqa: PLC0415

    assert _in_stdlib(threading.__file__)
    assert _in_stdlib(queue.__file__)
    assert _in_stdlib("<frozen importlib._bootstrap>")
    assert not _in_stdlib(str(Path(sysconfig.get_path("purelib")) / "shop" / "__init__.py"))
    assert not _in_stdlib(__file__)
    assert not _in_stdlib("<string>")


def test_an_inversion_through_a_condition_names_the_programs_sites():
    """A Condition's lock is entered by threading's Condition.__enter__: the sites reported are
    the program's `with` lines, and an order seen many times before still meets its inversion."""
    doc = _run("""
        import json, threading
        lockwatch(report=None)
        cond, lock = threading.Condition(), threading.Lock()

        def forward():
            with cond:
                with lock:
                    pass

        def backward():
            with lock:
                with cond:
                    cond.notify()

        for _ in range(100):
            forward()
        backward()
        print(json.dumps(locks({})))
    """)
    (inv,) = doc["inversions"]
    assert inv["functions"] == ["backward", "forward"]
    # the program's `with` lines (the prelude is line 1, the blank line after the quotes 2)
    assert inv["before"]["holds_site"] == "forward (<string>:8)"
    assert inv["before"]["takes_site"] == "forward (<string>:9)"
    assert inv["now"]["holds_site"] == "backward (<string>:13)"
    assert inv["now"]["takes_site"] == "backward (<string>:14)"
    assert doc["orders"] == 2


def test_lock_and_rlock_acquire_and_release_keep_the_books():
    doc = _run("""
        import json, threading
        lockwatch(report=None)
        lock, rlock = threading.Lock(), threading.RLock()
        out = {"first": lock.acquire(), "again": lock.acquire(False),
               "timed": lock.acquire(timeout=0.01), "locked": lock.locked()}
        out["held"] = [h["lock"].split(" #")[0] for h in locks({})["held"]]
        threading.Thread(target=lock.release).start()  # a Lock may be released by another
        out["reentered"] = [rlock.acquire(), rlock.acquire(False)]
        rlock.release()
        out["still_held"] = len(locks({})["held"])
        errors = []
        def foreign_release():
            try:
                rlock.release()
            except RuntimeError:
                errors.append("refused")
        t = threading.Thread(target=foreign_release); t.start(); t.join()
        rlock.release()
        out["errors"] = errors
        out["after"] = locks({})["held"]
        out["lock_free"] = lock.acquire(timeout=30)
        print(json.dumps(out))
    """)
    assert doc == {"first": True, "again": False, "timed": False, "locked": True,
                   "held": ["<watched Lock"], "reentered": [True, True], "still_held": 1,
                   "errors": ["refused"], "after": [], "lock_free": True}


def test_long_holds_are_measured_on_the_hold_clock_also_in_a_forked_child():
    """With a threshold above 0 the hold clock's thread runs (a forked child starts its own):
    a hold of a second is long at 0.2 s, a `with lock: pass` is not."""
    doc = _run("""
        import json, os, threading, time
        lockwatch(report=None, hold_threshold=0.2)
        lock = threading.Lock()

        def hold_long():
            with lock:
                time.sleep(1.0)

        def hold_short():
            with lock:
                pass

        def sites():
            return sorted(h["site"].split(" (")[0] for h in locks({})["long_holds"])

        hold_long()
        hold_short()
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            hold_long()
            os.write(write, json.dumps(sites()).encode())
            os._exit(0)
        os.waitpid(pid, 0)
        print(json.dumps({"parent": sites(), "child": json.loads(os.read(read, 4096))}))
    """)
    assert doc == {"parent": ["hold_long"], "child": ["hold_long"]}


def test_the_books_asked_for_are_the_books_kept(books):
    """In CI the C books must build (gcc and the Python headers are there); without a compiler
    or headers lockwatch keeps the Python books and /locks says why. Both name the same sites:
    the line of the `with`, a Condition's by its caller's."""
    doc = _run("""
        import json, threading
        lockwatch(report=None)
        lock = threading.Lock()
        cond = threading.Condition()
        seen = {}

        def take_lock():
            with lock:  # line 10
                seen["lock"] = [h["site"] for h in locks({})["held"]]

        def take_condition():
            with cond:  # line 14
                seen["cond"] = [h["site"] for h in locks({})["held"]]

        take_lock()
        take_condition()
        with lock:  # line 19
            seen["module"] = [h["site"] for h in locks({})["held"]]
        print(json.dumps({"books": locks({})["books"], "type": type(lock).__mro__[1].__name__,
                          "seen": seen}))
    """)
    assert doc["books"]["engine"] == books
    assert doc["type"] == ("_LockMethods" if books == "c" else "_PyBooks")
    assert doc["seen"] == {"lock": ["take_lock (<string>:10)"],
                           "cond": ["take_condition (<string>:14)"],
                           "module": ["<module> (<string>:19)"]}

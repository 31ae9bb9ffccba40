"""A trace links to the profiles of the processes that served it, matched by the identity its
spans' resources give (``process.pid`` at the trace's time, ``perflab.run.id``), not by a PID
alone."""

from __future__ import annotations

from typing import TYPE_CHECKING

from _spandata import MS, T0, sid, tid, write

from _profiledata import phase_profile
from perflab.profile import StoreSink
from perflab.store import Store
from perflab.trace import Process, Span, Trace, get_trace
from perflab.trace._profiles import profile_links

if TYPE_CHECKING:
    from pathlib import Path

S = 1_000_000_000


def _proc(service: str, **attrs: object) -> Process:
    return Process(service, {"service.name": service, **attrs})  # type: ignore[dict-item]


def _trace(store: Store, n: int) -> Trace:
    trace = get_trace(store, tid(n))
    assert trace is not None
    return trace


def _slices(path: Path, store: Store, pid: int, start: int, end: int, *,
            meta_pid: bool = False) -> int:
    run = store.create_run("record", f"profiled {pid}", started_ns=start,
                           meta={"pid": pid} if meta_pid else None)
    sink = StoreSink(str(path), run.id, pid=None if meta_pid else pid)
    sink(start, end, phase_profile("handle_request", 10, start), "py-spy")
    sink.close()
    store.finish_run(run.id, "ok", ended_ns=end)
    return run.id


def test_each_service_links_to_its_own_processes_profiles(tmp_path):
    path = tmp_path / "s.db"
    api_a, api_b = _proc("api", **{"process.pid": 101}), _proc("api", **{"process.pid": 102})
    store_proc = _proc("store", **{"process.pid": "201", "perflab.run.id": "77"})
    spans = [
        Span(tid(1), sid(1), None, "GET /", 2, T0, 50 * MS, api_a),
        Span(tid(1), sid(2), sid(1), "GET /", 2, T0 + 5 * MS, 20 * MS, api_b),
        Span(tid(1), sid(3), sid(2), "SELECT", 2, T0 + 6 * MS, 10 * MS, store_proc),
    ]
    with Store.open(path) as store:
        write(store, spans)
        run_a = _slices(path, store, 101, T0 - 5 * S, T0 + 5 * S)
        run_store = _slices(path, store, 201, T0 - 5 * S, T0 + 5 * S, meta_pid=True)
        other = _slices(path, store, 999, T0 - 5 * S, T0 + 5 * S)
        # PID 102 again, an hour later: another program that got the PID; not this trace's
        _slices(path, store, 102, T0 + 3600 * S, T0 + 3610 * S)
        links = profile_links(store, _trace(store, 1))
    got = [(link["run"], link["pid"], link["services"]) for link in links]
    assert got == [(run_a, 101, ["api"]), (run_store, 201, ["store"]), (other, 999, [])]
    assert all(link["url"].startswith(f"/runs/{link['run']}/flame?start={T0}&end=")
               for link in links)
    assert links[0]["url"].endswith("&pid=101")


def test_no_process_identity_no_service_but_the_link_stays(tmp_path):
    path = tmp_path / "s.db"
    spans = [Span(tid(2), sid(1), None, "GET /", 2, T0, 50 * MS, _proc("api"))]
    with Store.open(path) as store:
        write(store, spans)
        run = _slices(path, store, 555, T0 - S, T0 + S)
        links = profile_links(store, _trace(store, 2))
    assert [(link["run"], link["services"]) for link in links] == [(run, [])]

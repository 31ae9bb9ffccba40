"""A distributed load test's parts: the split of the test into Dask tasks, the scenario's files
sent as bytes, the merge of the tasks' results, and the client's refusals (bad --cluster, an
unreachable scheduler, a loopback target with remote workers)."""

import socket
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perflab.cli import main
from perflab.errors import InvalidFile, InvalidValue, ToolMissing, Unreachable
from perflab.load._arrivals import Arrivals
from perflab.load._bundle import Bundle, pack_scenario
from perflab.load._config import LoadConfig, parse_target
from perflab.load._dask import DaskLoadRunner
from perflab.load._dask_cluster import ClusterSpec, check_placement, connect, parse_cluster
from perflab.load._hdr import Histogram
from perflab.load._merge import LiveSeconds, merge_intervals, merge_results
from perflab.load._messages import CheckCounts, Tick, WorkerEnd, ns_array
from perflab.load._result import Interval, LoadResult
from perflab.load._summary import render_summary
from perflab.load._totals import Totals
from perflab.testing import free_port

TARGET = parse_target("http://127.0.0.1:8080/", resolve=False)


def _runner(cfg: LoadConfig) -> DaskLoadRunner:
    return DaskLoadRunner(cfg, None)  # type: ignore[arg-type]  # shares() needs no cluster


@pytest.mark.parametrize(("dask_workers", "per_worker"), [(1, 1), (2, 1), (3, 2), (4, 3)])
def test_open_model_arrivals_are_split_exactly_across_tasks(dask_workers, per_worker):
    """Every arrival of the schedule belongs to exactly one load process of one task: the
    tasks' shares add up to the schedule's total, none twice, none missing."""
    cfg = LoadConfig(TARGET, rate=997.0, duration_s=3.0, workers=per_worker)
    shares = _runner(cfg).shares([f"tcp://127.0.0.1:{9000 + i}" for i in range(dask_workers)])
    total = dask_workers * per_worker
    assert [s.count for s in shares] == [per_worker] * dask_workers
    assert [s.first for s in shares] == [k * per_worker for k in range(dask_workers)]
    sched = cfg.schedule()
    assert sched is not None
    taken: list[int] = []
    for s in shares:
        assert s.total == total
        for index in range(s.first, s.first + s.count):
            arr = Arrivals(sched, 0, index, s.total)
            taken.extend(range(index, sched.total, s.total)[:arr.total])
            assert arr.total == len(range(index, sched.total, s.total))
    assert sorted(taken) == list(range(sched.total))


def test_closed_model_never_has_more_processes_than_connections():
    """Each load process needs a connection: 3 connections over 2 Dask workers of 2
    processes each is 3 processes (2 on the first worker, 1 on the second)."""
    cfg = LoadConfig(TARGET, connections=3, duration_s=1.0, workers=2)
    shares = _runner(cfg).shares(["tcp://127.0.0.1:1", "tcp://127.0.0.1:2"])
    assert [(s.first, s.count, s.total) for s in shares] == [(0, 2, 3), (2, 1, 3)]


def _part(latencies_us: list[int], second: int = 1, *, code: int = 200) -> tuple[
        list[Interval], LoadResult]:
    cfg = LoadConfig(TARGET, rate=100.0, duration_s=1.0)
    h = Histogram()
    h.record_many(latencies_us)
    svc = Histogram()
    svc.record_many([v // 2 for v in latencies_us])
    iv = Interval(second, 1.0, len(latencies_us), Counter({code: len(latencies_us)}),
                  Counter(), h.copy(), svc.copy(), 3, 1)
    r = LoadResult(cfg, 0, 1.0 + second / 10, "ok", h, svc,
                   Counter({code: len(latencies_us)}), late=1, dropped=2, scheduled=10,
                   lateness=Histogram(), phases={"ttfb": h.copy()},
                   checks={"ok": CheckCounts(len(latencies_us), 0)},
                   worker_max_rss_bytes=len(latencies_us))
    return [iv], r


latencies = st.lists(st.integers(min_value=0, max_value=5_000_000), min_size=1, max_size=200)


@settings(max_examples=60, deadline=None)
@given(st.lists(latencies, min_size=1, max_size=5))
def test_merged_percentiles_are_those_of_the_union_of_all_latencies(parts):
    """The merged histogram is the histogram of every latency the tasks measured: p50, p99,
    p99.9, min and max are exactly those of the union, not an average of the tasks'."""
    merged = merge_results([_part(p)[1] for p in parts], started_ns=0)
    union = Histogram()
    union.record_many([v for p in parts for v in p])
    assert np.array_equal(merged.latency.counts, union.counts)
    qs = [50.0, 90.0, 99.0, 99.9, 100.0]
    assert list(merged.latency.values_at_percentiles(qs)) == list(
        union.values_at_percentiles(qs))
    assert (merged.latency.min, merged.latency.max, merged.latency.total) == (
        union.min, union.max, union.total)
    assert merged.requests == sum(len(p) for p in parts)


@settings(max_examples=30, deadline=None)
@given(st.lists(latencies, min_size=1, max_size=4))
def test_merge_gives_what_a_local_runs_merge_gives(parts):
    """The same latencies, merged by a local run's parent (``Totals``: each worker's tick)
    and by the distributed merge (each task's histogram): the same histogram."""
    cfg = LoadConfig(TARGET, rate=100.0, duration_s=1.0)
    acc = Totals(cfg, 0, len(parts))
    for i, p in enumerate(parts):
        acc.add_tick(i, Tick(latency_ns=ns_array([v * 1000 for v in p]),
                             service_ns=ns_array(), ttfb_ns=ns_array(), codes={200: len(p)},
                             errors={}, late=0, connections=1, second=1))
        acc.add_end(WorkerEnd(end_ns=10**9))
    local = acc.ready([True] * len(parts), final=True)
    distributed = merge_intervals(_part(p)[0] for p in parts)
    assert len(local) == len(distributed) == 1
    assert np.array_equal(local[0].latency.counts, distributed[0].latency.counts)
    assert local[0].completed == distributed[0].completed


def test_merge_adds_counts_and_keeps_the_worst_status_and_longest_duration():
    (iv_a, a), (iv_b, b) = _part([100, 200], second=1), _part([300], second=2, code=503)
    b.status = "failed"
    b.warnings = ["w"]
    a.warnings = ["w"]
    r = merge_results([a, b], started_ns=42)
    assert (r.started_ns, r.status, r.duration_s, r.warnings) == (42, "failed", 1.2, ["w"])
    assert (r.late, r.dropped, r.scheduled, r.worker_max_rss_bytes) == (2, 4, 20, 2)
    assert r.codes == Counter({200: 2, 503: 1})
    assert r.checks["ok"].passed == 3
    assert r.phases["ttfb"].total == 3
    assert r.service is not None
    assert r.service.total == 3
    ivs = merge_intervals([iv_a, iv_b, _part([5])[0]])
    assert [(iv.second, iv.completed, iv.connections, iv.late) for iv in ivs] == [
        (1, 3, 6, 2), (2, 1, 3, 1)]


def test_summary_names_the_cluster_and_the_missing_shares():
    _, r = _part([100])
    r.cluster = {"address": "tcp://10.0.0.5:8786", "dask_workers": 3, "shares": 3,
                 "partial": True, "missing": [{"worker": "tcp://10.0.0.7:4000", "first": 2,
                                               "count": 1, "reason": "it left"}]}
    text = render_summary(r)
    assert "3 load processes on 3 Dask workers of tcp://10.0.0.5:8786" in text
    assert "partial" in text
    assert "processes 2-2 on tcp://10.0.0.7:4000: it left" in text
    assert r.to_json()["cluster"]["partial"] is True


def test_scenario_files_travel_as_bytes(tmp_path):
    """The scenario and the data beside it are packed (not hidden files, not __pycache__)
    and written back under another directory, the scenario's path returned."""
    src = tmp_path / "src"
    (src / "data").mkdir(parents=True)
    (src / "s.py").write_text("x = 1\n")
    (src / "data" / "users.csv").write_text("name\nann\n")
    (src / ".secret").write_text("no")
    (src / "__pycache__").mkdir()
    (src / "__pycache__" / "s.pyc").write_bytes(b"\0")
    bundle = pack_scenario(str(src / "s.py"))
    assert dict(bundle.files) == {"s.py": b"x = 1\n", "data/users.csv": b"name\nann\n"}
    dest = tmp_path / "dest"
    path = bundle.unpack(dest)
    assert path == (dest / "s.py").resolve()
    assert (dest / "data" / "users.csv").read_text() == "name\nann\n"


def test_a_bundle_cannot_write_outside_its_directory(tmp_path):
    with pytest.raises(ValueError, match="leaves its directory"):
        Bundle("s.py", (("../evil.py", b""),)).unpack(tmp_path / "d")
    assert not (tmp_path / "evil.py").exists()


def test_a_scenario_in_a_crowded_directory_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr("perflab.load._bundle.MAX_BUNDLE_FILES", 3)
    for i in range(5):
        (tmp_path / f"f{i}.txt").write_text("x")
    (tmp_path / "s.py").write_text("")
    with pytest.raises(InvalidFile, match="Dask worker") as exc:
        pack_scenario(str(tmp_path / "s.py"))
    assert exc.value.hint is not None
    assert "directory of their own" in exc.value.hint


@pytest.mark.parametrize(("text", "spec"), [
    ("local:2", ClusterSpec(local_workers=2)),
    ("tcp://10.0.0.5:8786", ClusterSpec(address="tcp://10.0.0.5:8786")),
    ("sched.example:8786", ClusterSpec(address="tcp://sched.example:8786")),
])
def test_parse_cluster(text, spec):
    assert parse_cluster(text) == spec


@pytest.mark.parametrize("text", ["local:0", "local:x", "tcp://host", "http://h:1", "local:65"])
def test_bad_cluster_values_are_usage_errors(text):
    with pytest.raises(InvalidValue) as exc:
        parse_cluster(text)
    assert exc.value.exit_code == 2
    assert exc.value.hint


def test_loopback_target_with_workers_elsewhere_is_refused():
    with pytest.raises(InvalidValue, match="other hosts") as exc:
        check_placement(TARGET, "tcp://127.0.0.1:8786", ["tcp://10.1.2.3:4000"])
    assert exc.value.hint is not None
    assert "--allow-remote" in exc.value.hint
    with pytest.raises(InvalidValue, match=r"10\.9\.9\.9"):
        check_placement(TARGET, "tcp://10.9.9.9:8786", ["tcp://127.0.0.1:4000"])
    # loopback cluster and loopback target; a remote target with remote workers: fine
    check_placement(TARGET, "tcp://127.0.0.1:8786", ["tcp://127.0.0.1:4000", "tcp://[::1]:1"])
    remote = parse_target("http://10.0.0.9:80/", resolve=False)
    check_placement(remote, "tcp://10.0.0.5:8786", ["tcp://10.0.0.6:4000"])


def _closed_port() -> int:
    """A loopback port nobody listens on (bound, never listened, then closed)."""
    return free_port()


def test_unreachable_scheduler_is_a_target_error_within_the_timeout():
    port = _closed_port()
    t0 = time.monotonic()
    with pytest.raises(Unreachable) as exc:
        connect(ClusterSpec(address=f"tcp://127.0.0.1:{port}"), timeout_s=1.0)
    assert exc.value.exit_code == 3
    assert f"127.0.0.1:{port}" in exc.value.message
    assert exc.value.hint is not None
    assert "dask scheduler" in exc.value.hint
    assert time.monotonic() - t0 < 60  # bounded (a generous bound: the machine is shared)


def test_cli_unreachable_scheduler_is_one_line_and_exit_3(capsys, tmp_path):
    """The target answers, the scheduler does not: one error line and a hint, exit 3, and
    no run left in the store."""
    target = socket.socket()
    target.bind(("127.0.0.1", 0))
    target.listen()
    try:
        code = main(["load", f"http://127.0.0.1:{target.getsockname()[1]}/", "-d", "1s",
                     "--cluster", f"127.0.0.1:{_closed_port()}",
                     "--store", str(tmp_path / "s.db")])
    finally:
        target.close()
    err = capsys.readouterr().err
    assert code == 3
    lines = err.strip().splitlines()
    assert lines[0].startswith("perflab: error: cannot reach the Dask scheduler at tcp://")
    assert lines[1].startswith("  hint: ")
    assert "Traceback" not in err
    assert not Path(tmp_path / "s.db").exists()


def test_without_distributed_installed_the_hint_names_the_extra(monkeypatch):
    """distributed is an optional dependency (perflab[cluster]): without it, --cluster says
    what to install, exit 3."""
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed: ImportError
    with pytest.raises(ToolMissing) as exc:
        connect(ClusterSpec(local_workers=1))
    assert exc.value.exit_code == 3
    assert exc.value.hint == "install it: pip install 'perflab[cluster]'"


def test_live_seconds_wait_for_every_running_task():
    """A second is merged live once every running task has sent it; a task that is done (or
    missing) is not waited for; the seconds never merged live come from the final merge."""
    live = LiveSeconds([0, 1])
    (a1,), (a2,), (b1,) = _part([100])[0], _part([200], second=2)[0], _part([300])[0]
    live.add(0, a1)
    live.add(0, a2)
    assert live.ready({0, 1}) == []  # task 1 has sent nothing yet
    live.add(1, b1)
    (first,) = live.ready({0, 1})
    assert (first.second, first.completed) == (1, 2)
    assert live.ready({0, 1}) == []  # second 2: task 1 has not sent it
    (second,) = live.ready({0})  # task 1 is done: all it sent is in
    assert (second.second, second.completed) == (2, 1)
    live.add(1, _part([5], second=2)[0][0])  # late for a merged second: ignored
    assert live.pending == {}
    final = merge_intervals([[a1, a2], [b1], _part([7], second=3)[0]])
    assert [iv.second for iv in live.rest(final)] == [3]

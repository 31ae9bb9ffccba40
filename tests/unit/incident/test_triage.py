"""Triage over evidence documents: each check fires on its signature and stays quiet on a
healthy reading, and the planted cause of each demo fault outranks the machine-wide noise."""

from __future__ import annotations

from collections.abc import Sequence

from perflab.incident import triage
from perflab.incident._triage import (
    bench_regressions,
    changes,
    hot_path,
    leak,
    lock_queue,
    logs_burst,
    red,
    restarted,
    use_process,
    use_system,
)

S = 10**9
MIB = 1024**2


def _watch(pid: int, rows: Sequence[tuple[float, float, float]]) -> dict:
    """Process-watch evidence from (seconds, rss MiB, cpu seconds) rows."""
    return {"processes": {str(pid): {"exited": False, "start_ticks": 1, "samples": [
        [int(t * S), int(rss * MIB), cpu] for t, rss, cpu in rows]}}}


def _busy_system() -> dict:
    return {"cpu": {"all": {"idle": 2.0}}, "load": {"load1": 9.0},
            "psi": {"cpu": {"some": {"avg10": 90.0}}, "memory": {"some": {"avg10": 0.0}},
                    "io": {"some": {"avg10": 1.0}}},
            "memory": {"total_bytes": 100, "available_bytes": 80},
            "disks": [{"device": "vda", "util_pct": 10.0, "r_await_ms": 1.0, "w_await_ms": 2.0}],
            "tcp": {"retrans_per_s": 0.0, "listen_overflows_per_s": 0.0},
            "networks": [{"device": "eth0", "errors_per_s": 0.0, "drops_per_s": 0.0}]}


def _profile(name: str, pct: float) -> dict:
    return {"top": [{"name": "select", "flat": 1, "cum": 1, "flat_pct": 3.0, "cum_pct": 3.0},
                    {"name": name, "flat": 9, "cum": 9, "flat_pct": pct, "cum_pct": pct}]}


def test_a_hot_function_in_a_busy_suspect_is_the_first_finding():
    evidence = {"system": _busy_system(), "cpu-profile 7": _profile("checksum_slowly", 83.0),
                "process watch": _watch(7, [(0, 20, 0.0), (10, 20, 4.0)])}
    found = triage(evidence, {"cpu-profile 7": "/incidents/1/evidence/9"}, {"pids": [7]})
    assert found[0].title.startswith("CPU hot path in PID 7: checksum_slowly")
    assert found[0].link == "/incidents/1/evidence/9"
    assert found[0].evidence == ("cpu-profile 7", "process watch")
    assert [f.resource for f in found[1:]] == ["cpu"]  # the machine's saturation, below it


def test_an_idle_suspect_has_no_hot_path_and_a_flat_profile_only_says_busy():
    idle = _watch(7, [(0, 20, 0.0), (10, 20, 0.1)])
    assert hot_path(7, _profile("f", 90.0), idle) == []
    busy = _watch(7, [(0, 20, 0.0), (10, 20, 8.0)])
    flat = hot_path(7, _profile("f", 5.0), busy)
    assert [f.title for f in flat] == ["PID 7 uses 80% of a core"]
    assert hot_path(7, None, None) == []
    blocked = hot_path(7, _profile("SocketIO.readinto", 63.0), busy)  # waiting, not working
    assert [f.title for f in blocked] == ["PID 7 uses 80% of a core"]


def test_memory_growing_along_a_line_is_a_leak_and_a_sawtooth_is_not():
    line = [(t, 100 + 2 * t, 0.0) for t in range(20)]  # 2 MiB/s = 120 MiB/min
    found = leak(7, _watch(7, line))
    assert len(found) == 1
    assert "120MiB/min" in found[0].title.replace(" ", "")
    capped = [(t, min(100 + 50 * t, 400), 0.0) for t in range(20)]  # a leak up to its cap
    assert "leaks memory" in leak(7, _watch(7, capped))[0].title
    saw = [(t, 100 + (t % 4) * 30, 0.0) for t in range(20)]
    assert leak(7, _watch(7, saw)) == []
    assert leak(7, _watch(7, line[:3])) == []  # too few samples to call it


def test_threads_queued_at_one_place_are_lock_contention():
    waiting = {"active": False, "waits_for": "a lock", "function": "report",
               "frames": [{"function": "report", "file": "/srv/service.py", "line": 208}]}
    idle = {"active": False, "waits_for": None, "function": "select",
            "frames": [{"function": "select", "file": "selectors.py", "line": 415}]}
    stacks = {"threads": [waiting] * 5 + [idle], "deadlocks": []}
    found = lock_queue(7, stacks)
    assert found[0].title == "lock contention in PID 7: 5 threads queue at report (service.py:208)"
    assert lock_queue(7, {"threads": [waiting] * 2 + [idle]}) == []
    assert lock_queue(7, {"threads": [idle] * 6}) == []


def test_file_descriptors_near_the_limit_are_a_finding():
    proc = {"process": {"limits": [{"name": "Max open files", "soft": 100, "hard": 100}]},
            "files": [{}] * 95}
    assert use_process(7, proc)[0].title == "PID 7 uses 95 of 100 file descriptors"
    proc["files"] = [{}] * 10
    assert use_process(7, proc) == []
    assert use_process(7, None) == []


def test_machine_use_checks_name_their_resource():
    top = _busy_system()
    top["memory"] = {"total_bytes": 100, "available_bytes": 5}
    top["disks"][0]["util_pct"] = 99.0
    top["tcp"] = {"retrans_per_s": 50.0, "listen_overflows_per_s": 3.0}
    top["networks"][0]["drops_per_s"] = 5.0
    assert {f.resource for f in use_system(top)} == {
        "cpu", "memory", "disk vda", "network", "network eth0"}
    calm = {"cpu": {"all": {"idle": 80.0}}, "memory": {"total_bytes": 1, "available_bytes": 1}}
    assert use_system(calm) == []


def _red(before: tuple[int, int, float], recent: tuple[int, int, float]) -> dict:
    def window(c: tuple[int, int, float]) -> dict:
        return {"count": c[0], "errors": c[1], "p95_ms": c[2], "seconds": 60.0,
                "slowest_operation": "GET /x", "slowest_operation_p95_ms": c[2]}
    return {"before": window(before), "recent": window(recent)}


def test_an_error_burst_and_a_slow_downstream_are_found_from_spans():
    context = {"red": {"front": _red((100, 0, 10.0), (100, 30, 12.0))}, "edges": []}
    found = red(context, {})
    assert [f.title for f in found] == ["front: errors at 30% of requests"]
    chain = {"red": {"front": _red((100, 0, 10.0), (100, 30, 12.0)),
                     "db": _red((100, 0, 5.0), (100, 30, 6.0))},
             "edges": [["front", "db", 100, 30]]}
    ranked = sorted(red(chain, {}), key=lambda f: -f.score)
    assert ranked[0].title == "errors start here: db: errors at 30% of requests"
    assert ranked[1].detail.endswith("; errors from db")
    slow = {"red": {"front": _red((100, 0, 10.0), (100, 0, 300.0)),
                    "db": _red((100, 0, 5.0), (100, 0, 290.0))},
            "edges": [["front", "db", 100, 0]]}
    ranked = sorted(red(slow, {}), key=lambda f: -f.score)
    assert ranked[0].title.startswith("slow downstream: db: p95 latency 5 → 290 ms")
    assert "waits on db" in ranked[1].detail


def test_error_log_lines_rising_is_a_burst():
    burst = {"logs": {"recent": {"error": 200, "info": 10}, "before": {"error": 2},
                      "recent_s": 120.0, "before_s": 780.0}}
    assert logs_burst(burst)[0].title == "error log lines: 1.7/s"
    steady = {"logs": {"recent": {"error": 20}, "before": {"error": 130},
                       "recent_s": 120.0, "before_s": 780.0}}
    assert logs_burst(steady) == []


def test_what_changed_ranks_a_suspect_deploy_above_another_one():
    context = {"window": [0, 3600 * S], "deploys": [
        {"ts_ns": 3500 * S, "run_id": 1, "service": "search", "version": "v2"},
        {"ts_ns": 3500 * S, "run_id": 2, "service": "checkout", "version": "v9"}],
        "alerts": [{"text": "Latency firing", "labels": {"severity": "critical"}, "run_id": 3},
                   {"text": "Latency pending", "labels": {}, "run_id": 3}],
        "faults": [{"text": "latency 200ms", "run_id": 4}],
        "load_runs": [{"id": 5, "name": "soak", "status": "ok"}]}
    found = sorted(changes(context, {"services": ["checkout"]}), key=lambda f: -f.score)
    titles = [f.title for f in found]
    assert titles[0] == "deploy of checkout v9 1m40s before"  # a suspect's, just before
    assert "chaos fault: latency 200ms" in titles
    assert titles.index("deploy of checkout v9 1m40s before") < titles.index(
        "deploy of search v2 1m40s before")
    assert "Latency firing" in titles
    assert "Latency pending" not in titles
    assert found[-1].link == "/runs/5"


def test_a_suspect_started_in_the_window_and_bench_regressions_are_changes():
    proc = {"process": {"start_time_ns": 50 * S}}
    assert restarted(7, proc, {"window": [0, 100 * S]})[0].title == \
        "PID 7 started 50.0s before the incident"
    assert restarted(7, proc, {"window": [60 * S, 100 * S]}) == []
    doc = {"changes": [{"bench": "BenchmarkX", "verdict": "regression", "rel_change": 0.25,
                        "to_commit": "abcdef1234567890", "mean_before": 1.0,
                        "mean_after": 1.25, "unit": "ns/op"},
                       {"bench": "BenchmarkY", "verdict": "improvement", "rel_change": -0.2,
                        "to_commit": "abc", "mean_before": 1.0, "mean_after": 0.8,
                        "unit": "ns/op"}]}
    assert [f.title for f in bench_regressions(doc)] == [
        "benchmark regression: BenchmarkX +25% at abcdef123456"]


def test_missing_or_malformed_evidence_gives_no_finding_rather_than_an_error():
    assert triage({"system": "garbage", "store context": None, "stacks 7": []}, {},
                  {"pids": [7]}) == []

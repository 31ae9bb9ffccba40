"""The leak watch's readers and arithmetic: Go's MemStats trailer and heap sites (the runtime's
and the profiler's own frames skipped), sites ranked by growth not size, the cgroup or machine
limit, a process's age, and the verdict's rules (the heap decides over RSS)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from perflab.debug._goheap import SiteSample, heap_url, parse_memstats, sites
from perflab.debug._leak import LeakOptions, LeakTarget, Watch, judge
from perflab.debug._leak_limit import Limit, hours_to, memory_limit
from perflab.debug._leak_sites import rank_sites
from perflab.debug._leak_sources import ProcSource, pid_listening_on, process_age_s
from perflab.errors import InvalidFile, NoSuchProcess
from perflab.profile import Frame, Profile, SampleType

MB = 1 << 20


def test_memstats_and_urls():
    text = (b"heap profile: 1: 2 [3: 4] @ heap/1048576\n# runtime.MemStats\n# Alloc = 10\n"
            b"# HeapInuse = 8192\n# HeapObjects = 12\n")
    assert parse_memstats(text) == {"Alloc": 10, "HeapInuse": 8192, "HeapObjects": 12}
    with pytest.raises(InvalidFile, match="MemStats"):
        parse_memstats(b"<html>")
    assert heap_url("http://h:6060") == "http://h:6060/debug/pprof/heap"
    assert heap_url("http://h:6060/debug/pprof/goroutine?x", debug=True) == \
        "http://h:6060/debug/pprof/heap?debug=1"


def _heap(*samples: tuple[list[str], int, int]) -> Profile:
    prof = Profile(sample_types=[SampleType("alloc_objects", "count"),
                                 SampleType("alloc_space", "bytes"),
                                 SampleType("inuse_objects", "count"),
                                 SampleType("inuse_space", "bytes")])
    for stack, objects, size in samples:
        prof.add([Frame(f, file="main.go", line=i + 1) for i, f in enumerate(stack)],
                 [objects, size, objects, size])
    return prof


def test_heap_sites_skip_runtime_and_profiler_frames():
    prof = _heap((["runtime.mapassign", "main.put", "main.main"], 2, 100),
                 (["main.put", "main.serve"], 1, 50),
                 (["compress/flate.NewWriter", "runtime/pprof.writeHeap"], 1, 900))
    got = sites(prof)
    assert set(got) == {"main.put"}
    assert got["main.put"].bytes == 150
    assert got["main.put"].objects == 3
    assert got["main.put"].stack[0] == "runtime.mapassign"  # the biggest sample's stack


def test_sites_are_ranked_by_growth_not_size():
    def snap(big: int, small: int) -> dict[str, SiteSample]:
        return {"cache.big": SiteSample("cache.big", "a.go", 1, big, 10, ("cache.big",)),
                "list.grow": SiteSample("list.grow", "b.go", 2, small, small // 100,
                                        ("list.grow",))}

    snaps = [(float(t), snap(50 * MB, 1000 * t)) for t in range(10)]
    ranked = rank_sites(snaps)
    assert [s.function for s in ranked] == ["list.grow"]
    assert ranked[0].growth_bytes == 9000
    assert ranked[0].to_json(1)["growth_mb_per_h"] == pytest.approx(3.6)
    assert rank_sites(snaps[:1]) == []


def test_cgroup_limit_then_machine(tmp_path):
    proc = tmp_path / "proc"
    (proc / "42").mkdir(parents=True)
    (proc / "42" / "cgroup").write_text("0::/app/web\n")
    (proc / "meminfo").write_text("MemTotal: 1000 kB\nMemAvailable: 600 kB\n")
    cg = tmp_path / "cg"
    (cg / "app" / "web").mkdir(parents=True)
    (cg / "app" / "web" / "memory.max").write_text("max\n")
    (cg / "app" / "memory.max").write_text(f"{64 * MB}\n")
    (cg / "app" / "memory.current").write_text(f"{16 * MB}\n")
    limit = memory_limit(42, proc_root=proc, cgroup_root=cg)
    assert limit == Limit("cgroup", 64 * MB, 48 * MB, "/app")
    assert hours_to(limit, 48 * MB / 3600) == pytest.approx(1.0)
    assert hours_to(limit, 0) is None
    (cg / "app" / "memory.max").write_text("max\n")
    assert memory_limit(42, proc_root=proc, cgroup_root=cg) == Limit(
        "machine", 1000 * 1024, 600 * 1024, "/proc/meminfo")
    assert memory_limit(None, proc_root=tmp_path / "none") is None


def test_proc_source_and_age():
    me = ProcSource(os.getpid()).sample()
    assert me["rss"] > 0
    assert me["pss"] > 0
    age = process_age_s(os.getpid())
    assert age is not None
    assert age >= 0
    assert process_age_s(2**22 + 7, Path("/nonexistent")) is None
    with pytest.raises(NoSuchProcess):
        ProcSource(2**22 + 7).sample()


def _watch(series: dict[str, list[float]]) -> Watch:
    seen = Watch()
    n = len(next(iter(series.values())))
    seen.times = [float(i) for i in range(n)]
    for name, values in series.items():
        seen.values[name] = values
        seen.sample_times[name] = list(seen.times)
    return seen


def test_the_heap_decides_over_rss_and_warm_up_is_left_out():
    flat = [10.0 * MB] * 60
    rising = [10.0 * MB + 50_000 * i for i in range(60)]
    opts = LeakOptions(warmup_s=30)
    doc = judge(LeakTarget(pid=1), opts, _watch({"rss": rising, "heap_inuse": flat}),
                age_at_end_s=None, limit=None)
    assert doc["verdict"] == "no leak"
    assert any("RSS rises while the heap does not" in n for n in doc["notes"])
    doc = judge(LeakTarget(pid=1), opts, _watch({"rss": rising}), age_at_end_s=None,
                limit=None)
    assert doc["verdict"] == "leak"
    assert doc["growth_mb_per_h"] == pytest.approx(50_000 * 3600 / 1e6)
    # the process is 59 s old at the end: its first 30 s are warm-up, a rise only there is not
    warm = [10.0 * MB + 200_000 * min(i, 29) for i in range(60)]
    doc = judge(LeakTarget(pid=1), opts, _watch({"rss": warm}), age_at_end_s=59, limit=None)
    rss = doc["series"][0]
    assert rss["warmup_samples"] == 30
    assert doc["verdict"] == "no leak"
    assert judge(LeakTarget(pid=1), opts, Watch(), age_at_end_s=None,
                 limit=None)["verdict"] == "not enough data"


def test_the_pid_listening_on_a_local_url():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert pid_listening_on(f"http://127.0.0.1:{port}/debug/pprof") == os.getpid()
        assert pid_listening_on(f"http://localhost:{port}") == os.getpid()
    assert pid_listening_on(f"http://127.0.0.1:{port}") is None
    assert pid_listening_on("http://example.com:80") is None


def test_a_site_must_grow_past_the_floor_to_be_a_culprit():
    """A bounded cache read through Go's sampled heap profile wanders by a sample or two
    (512 KiB each): under the leak's own growth floor it is no culprit."""
    def snap(size: int) -> dict[str, SiteSample]:
        return {"main.cache": SiteSample("main.cache", "m.go", 1, size, 1, ("main.cache",))}

    wandering = [(0.0, snap(256 * 1024)), (5.0, snap(512 * 1024)), (10.0, snap(768 * 1024))]
    assert [s.function for s in rank_sites(wandering)] == ["main.cache"]
    assert rank_sites(wandering, min_growth=MB) == []
    growing = [(float(t), snap(t * MB)) for t in range(4)]
    assert [s.function for s in rank_sites(growing, min_growth=MB)] == ["main.cache"]
    # wandering up a sample at a time, then three more in the last snapshot: its ends differ by
    # 1.5 MiB, its trend by half that (the clean gate found a bounded cache named so)
    kib = [256, 256, 512, 256, 512, 512, 768, 512, 768, 768, 1024, 768, 1792]
    jump = [(float(t), snap(k * 1024)) for t, k in enumerate(kib)]
    assert rank_sites(jump) != []  # it does rise a little
    assert rank_sites(jump, min_growth=MB) == []

"""The Recorder against the fake /proc with fake clocks: series names, exact values, events."""

import shutil
import threading

import pytest
from proc_later import advance, copy_tree

from perflab.collect._procfs import USER_HZ
from perflab.collect.processes import PAGE_SIZE
from perflab.collect.recorder import Recorder
from perflab.store import Store

T0_NS = 1_795_000_000_000_000_000


class FakeTime:
    """Monotonic and wall clocks that only move when told to, and a sleep that moves them."""

    def __init__(self) -> None:
        self.t = 0.0
        self.sleeps: list[float] = []

    def mono(self) -> float:
        return self.t

    def wall(self) -> int:
        return T0_NS + round(self.t * 1e9)

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.t += s


@pytest.fixture
def proc(tmp_path):
    return copy_tree(tmp_path / "proc")


@pytest.fixture
def clock():
    return FakeTime()


@pytest.fixture
def run_id(store):
    return store.create_run("record", "test").id


def make(store, run_id, proc, clock, **kw):
    return Recorder(store, run_id, 1.0, proc_root=proc, wall_clock=clock.wall,
                    mono_clock=clock.mono, sleep=clock.sleep, **kw)


def values(store, run_id, series_name, **labels):
    found = store.series(run_id, name=series_name, labels=labels or None)
    assert len(found) == 1, f"{series_name}{labels}: {[s.labels for s in found]}"
    return store.samples(found[0].id)


def two_ticks(store, run_id, proc, clock, **kw):
    rec = make(store, run_id, proc, clock, **kw)
    rec.tick()
    advance(proc)
    clock.t += 2.0
    rec.tick()
    return rec


def test_first_tick_has_gauges_only(store, run_id, proc, clock):
    rec = make(store, run_id, proc, clock)
    rec.tick()
    assert values(store, run_id, "system.load1") == [(T0_NS, 1.5)]
    assert values(store, run_id, "system.load15") == [(T0_NS, 0.25)]
    assert values(store, run_id, "system.procs.running") == [(T0_NS, 3.0)]
    assert values(store, run_id, "system.procs.blocked") == [(T0_NS, 1.0)]
    assert values(store, run_id, "system.mem.total_bytes") == [(T0_NS, 8000000 * 1024)]
    assert values(store, run_id, "system.mem.available_bytes") == [(T0_NS, 5000000 * 1024)]
    assert values(store, run_id, "system.mem.used_bytes") == [(T0_NS, 3000000 * 1024)]
    assert values(store, run_id, "system.mem.cached_bytes") == [(T0_NS, 2500000 * 1024)]
    assert values(store, run_id, "system.mem.dirty_bytes") == [(T0_NS, 1234 * 1024)]
    assert values(store, run_id, "system.mem.swap_used_bytes") == [(T0_NS, 500000 * 1024)]
    assert values(store, run_id, "system.psi.some_pct", resource="cpu") == [(T0_NS, 2.5)]
    assert values(store, run_id, "system.psi.full_pct", resource="io") == [(T0_NS, 4.0)]
    assert values(store, run_id, "net.tcp.established") == [(T0_NS, 5.0)]  # CurrEstab
    assert values(store, run_id, "net.tcp.time_wait") == [(T0_NS, 1.0)]
    assert store.series(run_id, name="system.cpu.pct") == []
    assert store.series(run_id, name="system.disk.util_pct") == []


def test_second_tick_derives_rates(store, run_id, proc, clock):
    two_ticks(store, run_id, proc, clock)
    t1 = T0_NS + 2_000_000_000
    assert values(store, run_id, "system.cpu.pct", cpu="all", mode="user") == [(t1, 10.0)]
    assert values(store, run_id, "system.cpu.pct", cpu="1", mode="idle") == [(t1, 80.0)]
    assert len(store.series(run_id, name="system.cpu.pct")) == 3 * 8  # all + 2 cores, 8 modes
    assert values(store, run_id, "system.context_switches_per_s") == [(t1, 1000.0)]
    assert values(store, run_id, "system.mem.swap_in_bytes_per_s") == [(t1, 25 * 4096.0)]
    assert values(store, run_id, "system.mem.swap_out_bytes_per_s") == [(t1, 0.0)]
    assert values(store, run_id, "system.psi.some_stall_pct", resource="io") == [(t1, 25.0)]
    assert values(store, run_id, "system.psi.some_pct", resource="io")[-1] == (t1, 6.0)


def test_disk_series_are_iostat_x_figures_in_base_units(store, run_id, proc, clock):
    two_ticks(store, run_id, proc, clock)
    disk = {s.name: store.samples(s.id)[-1][1] for s in store.series(run_id)
            if s.name.startswith("system.disk.")}
    assert disk == pytest.approx({
        "system.disk.reads_per_s": 50.0,
        "system.disk.writes_per_s": 200.0,
        "system.disk.read_bytes_per_s": 800 * 512 / 2,
        "system.disk.write_bytes_per_s": 8000 * 512 / 2,
        "system.disk.read_await_s": 0.003,
        "system.disk.write_await_s": 0.005,
        "system.disk.queue_size": 1.5,
        "system.disk.util_pct": 50.0,
    })
    assert {s.labels["device"] for s in store.series(run_id, name="system.disk.util_pct")} == {
        "vda"}


def test_net_series(store, run_id, proc, clock):
    two_ticks(store, run_id, proc, clock)
    assert values(store, run_id, "net.if.rx_bytes_per_s", device="eth0")[-1][1] == 100000.0
    assert values(store, run_id, "net.if.rx_packets_per_s", device="eth0")[-1][1] == 100.0
    assert values(store, run_id, "net.if.tx_drops_per_s", device="lo")[-1][1] == 0.0
    assert values(store, run_id, "net.tcp.retrans_per_s")[-1][1] == 5.0
    assert values(store, run_id, "net.tcp.resets_per_s")[-1][1] == 2.0
    assert values(store, run_id, "net.tcp.listen_overflows_per_s")[-1][1] == 1.0
    assert values(store, run_id, "net.tcp.listen_drops_per_s")[-1][1] == 2.0


def test_units_are_recorded_with_the_series(store, run_id, proc, clock):
    two_ticks(store, run_id, proc, clock, pids=[4243])
    units = {s.name: s.unit for s in store.series(run_id)}
    assert units["system.cpu.pct"] == "%"
    assert units["system.mem.available_bytes"] == "bytes"
    assert units["system.disk.write_bytes_per_s"] == "bytes/s"
    assert units["system.disk.write_await_s"] == "s"
    assert units["net.tcp.retrans_per_s"] == "/s"
    assert units["process.rss_bytes"] == "bytes"
    assert units["process.cpu.pct"] == "%"


def test_a_pid_gets_gauges_at_once_and_rates_from_the_second_tick(store, run_id, proc, clock):
    rec = two_ticks(store, run_id, proc, clock, pids=[4243], system=False)
    labels = {"pid": "4243", "name": "python3"}
    t1 = T0_NS + 2_000_000_000
    assert values(store, run_id, "process.cpu.pct", **labels) == [
        (t1, pytest.approx(100.0 * (200 / USER_HZ) / 2.0))]
    assert values(store, run_id, "process.rss_bytes", **labels) == [
        (T0_NS, 25000.0 * PAGE_SIZE), (t1, 26000.0 * PAGE_SIZE)]
    assert values(store, run_id, "process.threads", **labels) == [(T0_NS, 4.0), (t1, 4.0)]
    assert values(store, run_id, "process.fds", **labels) == [(T0_NS, 3.0), (t1, 3.0)]
    assert values(store, run_id, "process.write_bytes_per_s", **labels) == [(t1, 1048576.0)]
    assert values(store, run_id, "process.read_bytes_per_s", **labels) == [(t1, 0.0)]
    assert {s.labels["pid"] for s in store.series(run_id)} == {"4243"}  # no other process
    assert store.series(run_id, name="system.load1") == []  # system=False
    assert rec.tracked_pids == [4243]


def test_match_selects_on_name_or_command_line_and_picks_up_newcomers(store, run_id, proc,
                                                                       clock):
    rec = make(store, run_id, proc, clock, matches=["nginx", "app.py"], system=False)
    rec.tick()
    assert rec.tracked_pids == [4242, 4243]
    shutil.copytree(proc / "4242", proc / "5000")
    stat = (proc / "4242" / "stat").read_text()
    stat = stat.replace("4242 (", "5000 (").replace(" 5000 ", " 7000 ")  # pid, start time
    (proc / "5000" / "stat").write_text(stat)
    clock.t += 1.0
    rec.tick()
    assert rec.tracked_pids == [4242, 4243, 5000]
    assert values(store, run_id, "process.rss_bytes", pid="5000")[0][0] == T0_NS + 1_000_000_000


def test_a_selected_process_that_exits_ends_with_an_event(store, run_id, proc, clock):
    rec = make(store, run_id, proc, clock, pids=[4243], matches=["nginx"])
    rec.tick()
    shutil.rmtree(proc / "4242")
    shutil.rmtree(proc / "4243")
    clock.t += 1.0
    rec.tick()  # no error: the series just end
    clock.t += 1.0
    rec.tick()
    events = store.events(run_id)
    assert [(e.kind, e.text, e.attrs, e.ts_ns) for e in events] == [
        ("process", "process exited", {"name": "nginx: worker (1)", "pid": 4242},
         T0_NS + 1_000_000_000),
        ("process", "process exited", {"name": "python3", "pid": 4243}, T0_NS + 1_000_000_000),
    ]
    assert rec.tracked_pids == []
    assert len(values(store, run_id, "process.rss_bytes", pid="4243")) == 1


def test_all_processes_records_every_process_without_exit_events(store, run_id, proc, clock):
    rec = make(store, run_id, proc, clock, all_processes=True, system=False)
    rec.tick()
    assert rec.tracked_pids == [1, 4242, 4243]
    shutil.rmtree(proc / "4242")
    clock.t += 1.0
    rec.tick()
    assert store.events(run_id) == []
    assert rec.tracked_pids == [1, 4243]


def test_every_tick_is_committed_at_once(store, store_path, run_id, proc, clock):
    rec = make(store, run_id, proc, clock)
    added = rec.tick()
    reader = Store.open(store_path)
    try:
        counts = reader.sample_counts(run_id)
    finally:
        reader.close()
    assert sum(counts.values()) == added == rec.samples_written
    assert rec.series_count == len(counts)


def test_run_ticks_on_interval_boundaries_without_drift(store, run_id, proc, clock):
    rec = make(store, run_id, proc, clock, system=False)

    def slow_tick(_rec):
        clock.t += 0.3  # each tick costs 300 ms: the sleeps must make up for it

    rec.run(duration_s=3.0, on_tick=slow_tick)
    assert rec.ticks == 4  # at 0, 1, 2 and 3 s
    assert clock.sleeps == pytest.approx([0.7, 0.7, 0.7])


def test_run_skips_boundaries_a_slow_tick_missed(store, run_id, proc, clock):
    rec = make(store, run_id, proc, clock, system=False)
    costs = iter([2.5, 0.1, 0.1])
    rec.run(duration_s=4.0, on_tick=lambda _r: setattr(clock, "t", clock.t + next(costs)))
    assert clock.sleeps == pytest.approx([0.5, 0.9])  # ticks at 0, 3, 4 s
    assert rec.ticks == 3


def test_run_stops_when_the_event_is_set(store, run_id, proc, clock):
    stop = threading.Event()
    rec = make(store, run_id, proc, clock)
    def after_one(r: Recorder) -> None:
        if r.ticks >= 1:
            stop.set()

    rec.run(stop, on_tick=after_one)
    assert rec.ticks == 1
    assert clock.sleeps == []  # the event's wait was cut short, not slept through


def test_unreadable_system_files_become_one_event_not_a_crash(store, run_id, proc, clock):
    rec = make(store, run_id, proc, clock)
    (proc / "stat").unlink()
    rec.run(duration_s=2.0)
    events = store.events(run_id)
    assert [e.kind for e in events] == ["error"]
    assert "collection failed" in events[0].text
    assert rec.ticks == 0


def test_interval_must_be_positive(store, run_id):
    with pytest.raises(ValueError, match="interval"):
        Recorder(store, run_id, 0)


def test_a_malformed_proc_file_is_an_event_and_recording_goes_on(store, run_id, proc, clock):
    rec = make(store, run_id, proc, clock, pids=[4243])
    rec.tick()
    good = (proc / "loadavg").read_text()
    (proc / "loadavg").write_text("not a loadavg line\n")
    clock.t += 1.0
    rec.run(duration_s=1.0)  # two failing ticks: one event
    (proc / "loadavg").write_text(good)
    clock.t += 1.0
    rec.tick()
    assert [e.kind for e in store.events(run_id)] == ["error"]
    assert len(values(store, run_id, "system.load1")) == 2


def test_a_process_seen_once_leaves_no_empty_rate_series(store, run_id, proc, clock):
    """Series are created with their first value: one reading gives gauges, never an empty
    cpu or I/O series that `show` and the dashboard would have to explain away."""
    rec = make(store, run_id, proc, clock, all_processes=True)
    rec.tick()
    assert store.series(run_id, name="process.cpu.pct") == []
    assert store.series(run_id, name="process.read_bytes_per_s") == []
    assert store.series(run_id, name="process.rss_bytes") != []
    counts = store.sample_counts(run_id)
    assert all(counts[s.id] > 0 for s in store.series(run_id))
    assert rec.series_count == len(store.series(run_id))

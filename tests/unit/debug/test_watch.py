"""record --watch-threads/--watch-goroutines: counts by state stored as series on the run."""

import os

import pytest

from perflab.debug import Watch, thread_states
from perflab.errors import NoSuchProcess
from perflab.store import Store


def _task(root, pid: int, tid: int, comm: str, state: str) -> None:
    d = root / str(pid) / "task" / str(tid)
    d.mkdir(parents=True)
    (d / "stat").write_text(f"{tid} ({comm}) {state} 1 2 3 4\n")


def test_thread_states_read_each_task_even_with_odd_names(tmp_path):
    _task(tmp_path, 7, 7, "app", "S")
    _task(tmp_path, 7, 8, "worker) R (x", "R")  # a name with ") R (" in it
    _task(tmp_path, 7, 9, "io", "D")
    assert thread_states(7, str(tmp_path)) == {"sleeping": 1, "running": 1, "disk": 1}
    with pytest.raises(NoSuchProcess):
        thread_states(8, str(tmp_path))


def test_a_poll_writes_one_sample_per_state_and_notes_a_gone_target(store_path):
    with Store.open(store_path) as store:
        run = store.create_run("record", "w")
        watch = Watch(str(store_path), run.id, thread_pids=(os.getpid(), 999_999_999),
                      clock=lambda: 1_800_000_000_000_000_000)
        written = watch.poll_once(store)
        series = store.series(run.id, name="process_threads")
        assert written == len(series) >= 1
        assert {s.labels["pid"] for s in series} == {str(os.getpid())}
        assert watch.notes == ["no process with PID 999999999"]

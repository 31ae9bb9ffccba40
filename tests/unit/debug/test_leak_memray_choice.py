"""Which reader names a Python process's allocation sites: the debug agent's tracemalloc, or
``memray attach`` (when the process has no agent, or with ``--memray``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

from perflab.debug import _leak
from perflab.debug._leak import LeakOptions, LeakTarget, open_sources
from perflab.debug._memray import is_python_process
from perflab.errors import TargetError


class FakeMemray:
    name = "memray attach"

    def __init__(self, pid: int, *, duration_s: float, native: bool) -> None:
        self.pid, self.duration_s, self.native = pid, duration_s, native


class FakeAgent:
    name = "python tracemalloc (debug agent)"

    def __init__(self, pid: int, **_: object) -> None:
        self.pid = pid


@pytest.fixture
def readers(monkeypatch):
    monkeypatch.setattr(_leak, "MemraySource", FakeMemray)
    monkeypatch.setattr(_leak, "PythonAgentSource", FakeAgent)
    monkeypatch.setattr(_leak, "is_python_process", lambda pid: True)
    monkeypatch.setattr(_leak, "memray_missing", lambda: None)

    def with_agent(present: bool) -> None:
        monkeypatch.setattr(_leak, "has_agent", lambda pid, directory: present)
    return with_agent


def _sites(options: LeakOptions) -> tuple[list[Any], list[str]]:
    sources, notes = open_sources(LeakTarget(pid=os.getpid()), options)
    return sources[1:], notes  # [0] is smaps


def test_the_agent_wins_when_it_is_there(readers):
    readers(True)
    sources, notes = _sites(LeakOptions())
    assert [type(s) for s in sources] == [FakeAgent]
    assert "--memray" in notes[0]


def test_memray_names_the_sites_of_a_python_process_without_an_agent(readers):
    readers(False)
    sources, _ = _sites(LeakOptions(duration_s=60))
    assert [type(s) for s in sources] == [FakeMemray]
    assert sources[0].native is False
    assert sources[0].duration_s == 60


def test_memray_flag_takes_memray_with_native_frames_even_beside_the_agent(readers):
    readers(True)
    sources, _ = _sites(LeakOptions(memray=True))
    assert [type(s) for s in sources] == [FakeMemray]
    assert sources[0].native is True


def test_no_memray_leaves_rss_only_with_a_note(readers):
    readers(False)
    sources, notes = _sites(LeakOptions(memray=False))
    assert sources == []
    assert "no debug agent" in notes[0]


def test_memray_flag_without_memray_is_a_clear_error(readers, monkeypatch):
    readers(False)
    monkeypatch.setattr(_leak, "memray_missing", lambda: "memray is not installed (pip ...)")
    with pytest.raises(TargetError, match="--memray: memray is not installed") as err:
        _sites(LeakOptions(memray=True))
    assert "perflab run --debug" in (err.value.hint or "")


def test_a_python_process_without_memray_gets_a_note_that_says_what_to_install(readers,
                                                                               monkeypatch):
    readers(False)
    monkeypatch.setattr(_leak, "memray_missing", lambda: "memray is not installed (pip ...)")
    sources, notes = _sites(LeakOptions())
    assert sources == []
    assert "memray is not installed" in notes[0]


def test_this_interpreter_is_a_python_process_and_a_shell_is_not(tmp_path):
    assert is_python_process(os.getpid())
    proc = tmp_path / "proc" / "1"
    proc.mkdir(parents=True)
    (proc / "exe").symlink_to("/usr/bin/bash")
    (proc / "maps").write_text("7f00-7f01 r-xp 0 08:01 1 /usr/lib/libc.so.6\n")
    assert not is_python_process(1, proc_root=tmp_path / "proc")
    (proc / "maps").write_text("7f00-7f01 r-xp 0 08:01 1 /usr/lib/libpython3.11.so.1.0\n")
    assert is_python_process(1, proc_root=tmp_path / "proc")  # an embedded interpreter
    assert not is_python_process(2, proc_root=tmp_path / "proc")
    assert Path(sys.executable).exists()


def test_a_reader_that_could_not_read_leaves_its_reason_in_the_notes(monkeypatch):
    class Failing:
        name = "memray attach"
        failure: str | None = None

        def sample(self) -> dict[str, float]:
            return {"rss": 1.0}

        def sites(self) -> None:
            return None

        def close(self) -> None:
            self.failure = "memray attach did not finish within the watch"

    monkeypatch.setattr(_leak, "open_sources", lambda target, options: ([Failing()], []))
    seen = _leak.watch(LeakTarget(pid=os.getpid()), LeakOptions(duration_s=0, interval_s=1))
    assert seen.notes == ["memray attach did not finish within the watch"]

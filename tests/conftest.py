from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import shutil
import signal
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import psutil
import pytest
from hypothesis import settings

from perflab.errors import PerflabError
from perflab.store import Store


def restore_default_sigint() -> None:
    """Give SIGINT back its default meaning when the suite was started with it ignored.

    A background job of a non-interactive shell (`make test &` in a script) starts with SIGINT
    ignored, and an ignored signal stays ignored across exec: every perflab process a test starts
    and interrupts would shrug off its Ctrl-C, and every Ctrl-C test would fail. A handled signal
    is reset to its default across exec, so installing Python's own handler here fixes the
    children too (xdist's workers are started after pytest_configure)."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_configure() -> None:
    restore_default_sigint()


def in_ci() -> bool:
    """Whether this run is CI's (``CI=true``), where every peer and privilege must be there."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


IN_CI = in_ci()

# In CI every run explores the same examples (derandomize) and keeps no example database: a red
# build then means a change broke something, never that this run's dice found an old corner.
# Locally Hypothesis stays random and remembers failures, which is where new corners are found.
settings.register_profile("ci", derandomize=True, database=None)
if IN_CI:
    settings.load_profile("ci")


def require_tool(name: str) -> str:
    """The path of a system tool; skip without it, but fail in CI where every peer must exist."""
    path = shutil.which(name)
    if path is None:
        if in_ci():
            pytest.fail(f"{name} is required in CI but missing (see tests/debian-packages.txt)")
        pytest.skip(f"{name} not installed")
    return path


def require_root(why: str) -> None:
    """Skip a test that needs root when not root, but fail in CI, which runs every test as root.

    ``why`` names what root is needed for; a CI job that silently skipped these would pass
    without ever running perf, bpftrace or the loop device.
    """
    if os.geteuid() != 0:
        if in_ci():
            pytest.fail(f"needs root ({why}); CI runs the tests as root")
        pytest.skip(f"needs root ({why})")


def store_file_at_version(path: Path, version: int) -> sqlite3.Connection:
    """A store file as perflab wrote it at schema ``version`` (its migrations up to there),
    open for the test to add rows to before a newer perflab opens and migrates it."""
    from perflab.store._schema import APPLICATION_ID, MIGRATIONS, _statements  # noqa: PLC0415

    conn = sqlite3.connect(path, isolation_level=None)
    for v in range(1, version + 1):
        for statement in _statements(MIGRATIONS[v]):
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {version}")
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    return conn


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "perflab.db"


@pytest.fixture
def store(store_path: Path):
    s = Store.open(store_path)
    yield s
    s.close()


def wait_for_child(pid: int, needle: str, timeout_s: float = 60.0) -> psutil.Process:
    """The first process under ``pid`` whose command line holds ``needle``, once it runs.

    What a test waits for before its Ctrl-C (a profiler started, a worker measuring) instead of
    sleeping a guess that a busy machine outlasts.
    """
    deadline = time.monotonic() + timeout_s
    parent = psutil.Process(pid)
    while True:
        for child in parent.children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):
                if needle in " ".join(child.cmdline()):
                    return child
        if not parent.is_running() or parent.status() == psutil.STATUS_ZOMBIE:
            pytest.fail(f"process {pid} ended before a {needle!r} process started under it")
        if time.monotonic() > deadline:
            pytest.fail(f"no {needle!r} process under {pid} after {timeout_s:g} s")
        time.sleep(0.05)


T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout_s: float = 10.0, what: str = "condition",
             every_s: float = 0.05) -> T:
    """The first true value ``predicate()`` returns, asked every ``every_s`` until ``timeout_s``
    has passed (then the test fails naming ``what``): waiting for a state, not sleeping a guess."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every_s)
    pytest.fail(f"timed out after {timeout_s:g} s waiting for {what}")


def wait_until_idle(pid: int, quiet_s: float = 0.5, timeout_s: float = 60.0) -> None:
    """Until process ``pid`` has used no CPU for ``quiet_s``: done starting, now waiting."""
    deadline = time.monotonic() + timeout_s
    proc = psutil.Process(pid)
    last, since = sum(proc.cpu_times()[:2]), time.monotonic()
    while time.monotonic() - since < quiet_s:
        if time.monotonic() > deadline:
            pytest.fail(f"process {pid} never stopped using CPU for {quiet_s:g} s")
        time.sleep(0.05)
        used = sum(proc.cpu_times()[:2])
        if used != last:
            last, since = used, time.monotonic()


def wait_for_samples(store_path: Path, name: str, labels: dict[str, str] | None = None,
                     timeout_s: float = 60.0) -> None:
    """Until a run in the store holds a sample of series ``name`` (a writer commits once per
    tick): the measuring has begun, whatever start-up took on this machine. Any run, not the
    newest: a demo or a hub may start runs of their own beside the one measured."""
    deadline = time.monotonic() + timeout_s
    while True:
        # the file may not exist or hold a run yet
        with contextlib.suppress(PerflabError), Store.open(store_path, create=False) as store:
            if any(store.samples(s.id) for run in store.runs()
                   for s in store.series(run.id, name=name, labels=labels)):
                return
        if time.monotonic() > deadline:
            pytest.fail(f"no {name} {labels or ''} sample in {store_path} after {timeout_s:g} s")
        time.sleep(0.1)


@pytest.fixture(autouse=True)
def _no_event_loop_left_running(request: pytest.FixtureRequest):
    """A test must not leave an event loop marked running in the main thread: every later
    asyncio.run() in the same worker would be refused ("cannot be called from a running event
    loop"). The shared browser of the integration tests keeps one on purpose; a loop that was
    already running when the test began is not this test's doing."""
    before = asyncio.events._get_running_loop()  # the only way to ask without raising
    yield
    after = asyncio.events._get_running_loop()  # as above
    if before is None and after is not None:
        asyncio.events._set_running_loop(None)  # so later tests are not failed by this one
        pytest.fail(f"{request.node.nodeid} left an event loop running in the main thread")


@pytest.fixture(autouse=True)
def _uprobes_apart(request: pytest.FixtureRequest):
    """Tests marked ``uprobes`` take one machine-wide lock: a uprobe writes a breakpoint into
    the library's pages of every process that maps it, and valgrind, which translates those
    pages instead of running them, delivers the breakpoint to its program, which dies of
    SIGTRAP. So a test tracing libc's getppid beside a callgrind count (whose markers are
    getppid and getpgrp) fails the count. A file lock, not an xdist group, because the effect
    is the machine's: another suite running on it is kept apart too."""
    if request.node.get_closest_marker("uprobes") is None:
        yield
        return
    lock = Path(tempfile.gettempdir()) / "perflab-tests-uprobes.lock"
    with lock.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # released when the file closes
        yield

"""A demo child is stopped with its whole process group, and says how it ended."""

from __future__ import annotations

import socket
import sys
import time

import psutil
import pytest

from perflab.demo._children import Child, ChildFailed, free_port, port_accepts, port_is_free

# a child that starts a grandchild, then ignores SIGTERM: stop() must still leave nothing
STUBBORN = (
    "import signal, subprocess, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
    "print(p.pid, flush=True)\n"
    "time.sleep(60)\n"
)


def test_stop_kills_the_group_even_a_child_that_ignores_sigterm(tmp_path):
    child = Child("stubborn", [sys.executable, "-c", STUBBORN], log_path=tmp_path / "log")
    child.start()
    child.wait_ready(lambda: (tmp_path / "log").read_text().strip() != "", timeout_s=10)
    grandchild = int((tmp_path / "log").read_text())
    t0 = time.monotonic()
    child.stop(timeout_s=0.5)
    assert time.monotonic() - t0 < 5
    assert child.how_it_ended() == "was killed by SIGKILL"
    # SIGKILL takes effect when the grandchild is next scheduled: a moment on a busy machine
    deadline = time.monotonic() + 5
    while _running(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(grandchild)
    child.stop()  # twice is fine


def _running(pid: int) -> bool:
    """Whether ``pid`` still runs; a killed orphan may linger a moment as a zombie for init."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_a_child_that_exits_before_ready_is_reported_with_its_output(tmp_path):
    child = Child("broken", [sys.executable, "-c", "print('no config'); raise SystemExit(4)"],
                  log_path=tmp_path / "log")
    child.start()
    with pytest.raises(ChildFailed, match=r"the broken exited with code 4 before it was ready: "
                                          r"no config") as info:
        child.wait_ready(lambda: False, timeout_s=10)
    assert info.value.exit_code == 3
    assert str(tmp_path / "log") in (info.value.hint or "")
    child.stop()


def test_ports():
    port = free_port()
    assert port_is_free(port)
    assert not port_accepts(port)


def test_a_chain_child_is_ready_once_its_port_file_names_a_listening_port(tmp_path):
    """Before the child writes its port (no file, or a half-written one) it is not ready."""
    from perflab.demo.orchestrate import _chain_ready  # noqa: PLC0415

    port_file = tmp_path / "frontend.port"
    assert not _chain_ready(port_file)
    port_file.write_text("")
    assert not _chain_ready(port_file)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port_file.write_text(str(listener.getsockname()[1]))
        assert _chain_ready(port_file)

"""The Python debug agent: a private unix socket per process, one handler table, tracemalloc
sites named by function, clear errors for a process without an agent, and it never dies of a
handler's failure."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import perflab.debug
from perflab.debug import AgentError, agent_get, has_agent
from perflab.debug._tracemalloc import function_at
from perflab.errors import TargetError

SRC = Path(__file__).resolve().parents[3] / "src"


@pytest.fixture
def agent_dir(tmp_path, monkeypatch):
    where = tmp_path / "agents"
    monkeypatch.setenv("PERFLAB_DEBUG_DIR", str(where))
    yield where
    perflab.debug.disable()


def test_the_agent_listens_on_a_private_socket_named_by_pid(agent_dir):
    path = perflab.debug.enable()
    assert path == agent_dir / f"{os.getpid()}.sock"
    assert perflab.debug.enable() == path  # idempotent
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(agent_dir.stat().st_mode) == 0o700
    assert has_agent(os.getpid())
    index = agent_get(os.getpid(), "/")
    assert index["pid"] == os.getpid()
    assert "/tracemalloc/diff" in index["paths"]


def test_an_open_directory_is_closed_and_a_foreign_one_refused(agent_dir, tmp_path):
    agent_dir.mkdir(mode=0o755)
    agent_dir.chmod(0o755)
    perflab.debug.enable()
    assert stat.S_IMODE(agent_dir.stat().st_mode) == 0o700
    perflab.debug.disable()
    link = tmp_path / "link"
    link.symlink_to(agent_dir)
    with pytest.raises(PermissionError):
        perflab.debug.enable(link)


def test_a_folder_too_deep_for_a_unix_socket_address_still_works(tmp_path, monkeypatch):
    # sun_path holds 108 bytes; a deep $PERFLAB_DEBUG_DIR (a test runner's temporary folder)
    # made bind() fail with "AF_UNIX path too long" and the service exit at start
    deep = tmp_path.joinpath(*["a-rather-long-folder-name"] * 5)
    monkeypatch.setenv("PERFLAB_DEBUG_DIR", str(deep))
    try:
        path = perflab.debug.enable()
        assert len(os.fsencode(path)) > 108
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert agent_get(os.getpid(), "/")["pid"] == os.getpid()
    finally:
        perflab.debug.disable()
    assert not path.exists()


def test_handlers_come_from_one_table_and_errors_are_answers(agent_dir):
    def boom(query):
        raise RuntimeError("handler broke")

    def strict(query):
        raise ValueError(f"bad n {query.get('n')}")

    perflab.debug.register("/test/echo", lambda q: {"got": q})
    perflab.debug.register("/test/boom", boom)
    perflab.debug.register("/test/strict", strict)
    perflab.debug.enable()
    assert agent_get(os.getpid(), "/test/echo", {"a": "1", "b": "x y"}) == {
        "got": {"a": "1", "b": "x y"}}
    with pytest.raises(AgentError, match="500: RuntimeError: handler broke"):
        agent_get(os.getpid(), "/test/boom")
    with pytest.raises(AgentError, match="400: bad n 7"):
        agent_get(os.getpid(), "/test/strict", {"n": "7"})
    with pytest.raises(AgentError, match="404"):
        agent_get(os.getpid(), "/nothing/here")
    # still serving after all of that
    assert agent_get(os.getpid(), "/")["pid"] == os.getpid()
    with pytest.raises(ValueError, match="start with"):
        perflab.debug.register("relative", lambda q: None)


def test_other_methods_and_garbage_are_refused(agent_dir):
    path = perflab.debug.enable()
    for request, status in ((b"POST / HTTP/1.0\r\n\r\n", b"405"), (b"\r\n\r\n", b"400")):
        with socket.socket(socket.AF_UNIX) as conn:
            conn.connect(str(path))
            conn.sendall(request)
            answer = b""
            while chunk := conn.recv(4096):
                answer += chunk
        assert answer.split()[1] == status


def test_curl_reads_the_agent(agent_dir):
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    path = perflab.debug.enable()
    out = subprocess.run([curl, "-s", "--unix-socket", str(path), "http://x/tracemalloc/totals"],
                         capture_output=True, text=True, check=True, timeout=30).stdout
    assert '"traced_bytes"' in out


def test_a_process_without_an_agent_is_a_clear_error(agent_dir):
    with pytest.raises(TargetError, match="no perflab debug agent") as info:
        agent_get(os.getpid(), "/")
    assert "perflab run --debug" in (info.value.hint or "")
    agent_dir.mkdir(mode=0o700)
    stale = agent_dir / f"{os.getpid()}.sock"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(stale))  # bound, never listening: a dead process's leftover
    with pytest.raises(TargetError, match="leftover"):
        agent_get(os.getpid(), "/")
    # nor does a leftover count as an agent: its PID may be another program's now (under
    # pytest-xdist a C program's leak watch was refused for a Python test's old socket)
    assert not has_agent(os.getpid())


_PLANTED: list[bytearray] = []


def grow_the_planted_list():
    _PLANTED.extend(bytearray(512) for _ in range(2000))


def test_tracemalloc_diff_names_the_growing_function_first(agent_dir):
    perflab.debug.enable()
    started = agent_get(os.getpid(), "/tracemalloc/start", {"frames": "8"})
    try:
        assert started["tracing"] is True
        grow_the_planted_list()
        # the agent runs in the test runner, whose heap holds every module the worker has run:
        # its snapshot took 15 s here and over 30 s (agent_get's default) under stress
        diff = agent_get(os.getpid(), "/tracemalloc/diff", {"limit": "5"}, timeout=180)
        top = diff["sites"][0]
        assert top["frames"][0]["function"] == "grow_the_planted_list"
        assert top["frames"][0]["file"] == __file__
        assert top["size_diff_bytes"] >= 2000 * 512
        assert top["count_diff"] >= 2000
        totals = agent_get(os.getpid(), "/tracemalloc/totals", timeout=180)
        assert totals["tracing"]
        assert totals["traced_bytes"] > 2000 * 512
        assert totals["gc_objects"] > 0
        with pytest.raises(AgentError, match="limit must be an integer"):
            agent_get(os.getpid(), "/tracemalloc/diff", {"limit": "0"}, timeout=180)
    finally:
        assert agent_get(os.getpid(), "/tracemalloc/stop", timeout=180)["was_tracing"] is True
        _PLANTED.clear()
    with pytest.raises(AgentError, match="not tracing"):
        agent_get(os.getpid(), "/tracemalloc/diff")


def test_function_at_finds_the_innermost_definition(tmp_path):
    source = tmp_path / "m.py"
    source.write_text(textwrap.dedent("""\
        X = 1
        class Cache:
            def put(self):
                def inner():
                    return 1
                return inner
        """))
    assert function_at(str(source), 1) == "<module>"
    assert function_at(str(source), 3) == "Cache.put"
    assert function_at(str(source), 5) == "Cache.put.inner"
    assert function_at(str(tmp_path / "missing.py"), 1) == "?"


APP = textwrap.dedent("""
    import os, sys, time
    sys.stdout.write("ready\\n"); sys.stdout.flush()
    time.sleep(120)
""")


def _wait_socket(path: Path, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the agent did not start"
        time.sleep(0.05)


@pytest.mark.parametrize("how", ["env", "sitecustomize"])
def test_the_agent_starts_with_no_code_change(agent_dir, tmp_path, how):
    """PERFLAB_DEBUG=1 with perflab imported, or perflab's sitecustomize (run --debug) in a
    Python that has its own sitecustomize, which still runs."""
    script = tmp_path / "app.py"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if how == "env":
        script.write_text("import perflab.debug\n" + APP)
        env.update(PYTHONPATH=str(SRC), PERFLAB_DEBUG="1")
    else:
        user_site = tmp_path / "usersite"
        user_site.mkdir()
        (user_site / "sitecustomize.py").write_text(
            "import os\nos.environ['USER_SITE_RAN'] = '1'\n")
        script.write_text("import os\nassert os.environ.get('USER_SITE_RAN') == '1'\n" + APP)
        env = perflab.debug.agent_env({**env, "PYTHONPATH": str(user_site)})
    proc = subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"ready\n", proc.communicate()
        _wait_socket(agent_dir / f"{proc.pid}.sock", proc)
        assert agent_get(proc.pid, "/")["pid"] == proc.pid
    finally:
        proc.kill()
        proc.communicate()

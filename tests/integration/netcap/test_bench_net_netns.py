"""perflab bench net --netns: server and client in two namespaces joined by a veth pair, and
both namespaces gone afterwards, after an error, Ctrl-C and SIGTERM too."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from tests._nobody import fork_as_nobody
from tests._schemas import validate
from tests.conftest import require_root, require_tool, wait_for

from perflab.cli import main

pytestmark = [pytest.mark.integration, pytest.mark.root]

ROOT = Path(__file__).resolve().parents[3]
RUN_NETNS = Path("/run/netns")


def _ours(pid: int) -> set[str]:
    """The namespaces process ``pid`` made and has not deleted."""
    prefix = f"perflab-bn{pid:x}-"
    return {p.name for p in RUN_NETNS.iterdir() if p.name.startswith(prefix)} if (
        RUN_NETNS.is_dir()) else set()


@pytest.fixture(autouse=True)
def _root_and_ip() -> None:
    require_root("creating network namespaces")
    require_tool("ip")


@pytest.mark.parametrize("udp", [False, True])
def test_across_a_veth_pair(udp: bool, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["bench", "net", "--netns", "-t", "0.6s", "-i", "0.2s", "-P", "2", "--json"]
    assert main([*argv, "-u", "-b", "10M"] if udp else argv) == 0
    doc = validate(json.loads(capsys.readouterr().out), "bench-net")
    pid = os.getpid()
    netns = doc["start"]["netns"]
    assert re.fullmatch(rf"perflab-bn{pid:x}-\d+s", netns["server"])
    assert netns["client"] == netns["server"][:-1] + "c"
    for connected in doc["start"]["connected"]:
        assert (connected["local_host"], connected["remote_host"]) == ("169.254.0.2",
                                                                       "169.254.0.1")
    assert doc["end"]["sum_received"]["bytes"] > 0
    assert _ours(pid) == set()


def test_from_another_thread(capsys: pytest.CaptureFixture[str]) -> None:
    """The API from a thread: no SIGTERM handler there (Python allows none), same clean-up."""
    from perflab.netcap import endpoints, run_udp  # noqa: PLC0415

    docs = []

    def run() -> None:
        with endpoints(netns=True) as ends:
            docs.append(run_udp(0.3, 1e6, ends=ends))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(60)
    assert docs[0]["end"]["sum_received"]["bytes"] > 0
    assert _ours(os.getpid()) == set()
    capsys.readouterr()


def test_two_at_once_in_one_process(capsys: pytest.CaptureFixture[str]) -> None:
    from perflab.netcap import endpoints, run_tcp  # noqa: PLC0415

    docs = []

    def run() -> None:
        with endpoints(netns=True) as ends:
            docs.append(run_tcp(0.3, ends=ends))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(docs) == 2
    assert docs[0]["start"]["netns"] != docs[1]["start"]["netns"]
    assert _ours(os.getpid()) == set()
    capsys.readouterr()


def test_an_error_inside_still_deletes_them(monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    import perflab.netcap._benchnet as benchnet  # noqa: PLC0415

    seen: list[set[str]] = []

    def fails(*_: object, **__: object) -> None:
        seen.append(_ours(os.getpid()))
        raise OSError(99, "Cannot assign requested address")

    monkeypatch.setattr(benchnet, "listening_socket", fails)
    with pytest.raises(OSError, match="Cannot assign"):
        main(["bench", "net", "--netns", "-t", "0.2s"])
    assert len(seen[0]) == 2  # they existed when it failed
    assert _ours(os.getpid()) == set()
    capsys.readouterr()


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 130)])
def test_ctrl_c_and_sigterm_delete_them(sig: signal.Signals, code: int) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen([sys.executable, "-m", "perflab", "bench", "net", "--netns",
                             "-t", "60s"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: len(_ours(proc.pid)) == 2 or proc.poll() is not None, timeout_s=60,
                 what="the two namespaces")
        proc.send_signal(sig)  # set-up or transfer: either way both must go
        _, err = proc.communicate(timeout=60)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    assert proc.returncode == code, err
    assert "interrupted" in err
    assert _ours(proc.pid) == set()


def test_namespaces_of_a_killed_run_are_deleted_by_the_next(
        capsys: pytest.CaptureFixture[str]) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()  # a PID that no longer runs
    orphan = f"perflab-bn{dead.pid:x}-0s"
    subprocess.run(["ip", "netns", "add", orphan], check=True)
    try:
        assert main(["bench", "net", "--netns", "-t", "0.2s", "--json"]) == 0
        assert not (RUN_NETNS / orphan).exists()
    finally:
        subprocess.run(["ip", "netns", "del", orphan], capture_output=True, check=False)
    capsys.readouterr()


def test_without_root_a_clear_error() -> None:
    code, _, err = fork_as_nobody(["bench", "net", "--netns", "-t", "0.2s"])
    assert code == 3
    assert "bench net --netns needs root" in err
    assert "hint:" in err
    assert "Traceback" not in err

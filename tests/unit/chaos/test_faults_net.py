"""``perflab chaos net`` and ``chaos netns``: real nftables rules and qdiscs, only on lo (by
port) or in a namespace the test created, removed at the end, on Ctrl-C and after kill -9."""

from __future__ import annotations

import contextlib
import io
import json
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import toxiproxy
from tests._faults import ENV, Controller, step_restored
from tests._nobody import fork_as_nobody
from tests._schemas import validate
from tests.conftest import require_root, require_tool, wait_for

from perflab.chaos.faults import NetnsDoc, NetSpec, create_netns, delete_netns
from perflab.chaos.faults._net import netem_args
from perflab.cli import main

UDP_ECHO = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 9999))
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(data, peer)
"""


def _perflab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "perflab", "chaos", *args],
                          capture_output=True, text=True, env=ENV, check=False, timeout=120)


@pytest.fixture
def netns() -> Iterator[NetnsDoc]:
    """A perflab namespace with a UDP echo server at its inside address, port 9999; deleted
    (with the server) whatever the test did."""
    require_root("network namespaces")
    require_tool("ip")
    require_tool("nft")
    require_tool("tc")
    name = f"t{secrets.token_hex(3)}"
    doc = create_netns(name)
    server = subprocess.Popen(
        [sys.executable, "-m", "perflab", "chaos", "netns", "run", name, "--",
         sys.executable, "-c", UDP_ECHO, doc["ns_addr"]], env=ENV)
    try:
        wait_for(lambda: _echo(doc["ns_addr"]), 30, "the echo server in the namespace")
        yield doc
    finally:
        server.kill()
        server.wait()
        delete_netns(name)


def _echo(addr: str, timeout_s: float = 0.5) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout_s)
        s.sendto(b"ping", (addr, 9999))
        try:
            return s.recvfrom(64)[0] == b"ping"
        except TimeoutError:
            return False


def test_netns_create_gives_a_link_local_pair_and_nothing_else(
        netns: NetnsDoc, store_path: Path) -> None:
    out = _perflab("netns", "list", "--json")
    doc = validate(json.loads(out.stdout), "chaos-netns")
    assert netns["name"] in [n["name"] for n in doc["namespaces"]]
    assert netns["ns_addr"].startswith("169.254.")
    routes = subprocess.run(["ip", "netns", "exec", netns["netns"], "ip", "route"],
                            capture_output=True, text=True, check=True).stdout
    assert "default" not in routes  # nothing inside can reach beyond the pair
    fwd = Path(f"/proc/sys/net/ipv4/conf/{netns['host_if']}/forwarding").read_text()
    assert fwd.strip() == "0"


def test_partition_drops_everything_then_is_removed(netns: NetnsDoc,
                                                    store_path: Path) -> None:
    ctl = Controller(["net", "--partition", "--netns", netns["name"], "--duration", "10m",
                      "--json"], store_path)
    assert "every packet dropped" in ctl.wait_applied()
    journal = ctl.journal()
    assert not any(_echo(netns["ns_addr"]) for _ in range(3))
    ctl.signal(signal.SIGINT)
    code, out, err = ctl.finish()
    assert code == 130, err
    doc = validate(json.loads(out), "chaos-net")
    assert doc["status"] == "aborted"
    assert all(step_restored(s) for s in journal["undo"])
    wait_for(lambda: _echo(netns["ns_addr"]), 30, "traffic after the partition")


def test_loss_uses_nftables_numgen_and_the_watchdog_removes_it(netns: NetnsDoc,
                                                               store_path: Path) -> None:
    ctl = Controller(["net", "--loss", "1.5%", "--netns", netns["name"], "--duration", "10m"],
                     store_path)
    applied = ctl.wait_applied()
    journal = ctl.journal()
    (nft,) = [s for s in journal["undo"] if s["op"] in ("nft_delete", "tc_delete")][:1]
    if nft["op"] == "nft_delete":  # no netem: nftables' random numbers
        assert "numgen random mod 10000 < 150 drop" in applied
        rules = subprocess.run(["ip", "netns", "exec", netns["netns"], "nft", "list",
                                "table", "inet", nft["table"]],
                               capture_output=True, text=True, check=True).stdout
        assert f'iifname "{netns["ns_if"]}" numgen random mod 10000 < 150 drop' in rules
    else:
        assert "netem loss 1.5%" in applied
    ctl.kill9()
    wait_for(lambda: not Path(journal["path"]).exists(), 30, "the watchdog's rollback")
    assert all(step_restored(s) for s in journal["undo"])


def test_rate_is_tbf_on_both_ends(netns: NetnsDoc, store_path: Path) -> None:
    ctl = Controller(["net", "--rate", "1mbit", "--netns", netns["name"], "--duration", "1s"],
                     store_path)
    assert "tbf rate 1000000bit on both ends" in ctl.wait_applied()
    journal = ctl.journal()
    devs = {s["dev"] for s in journal["undo"] if s["op"] == "tc_delete"}
    assert devs == {netns["host_if"], netns["ns_if"]}
    code, _, err = ctl.finish()
    assert code == 0, err
    assert all(step_restored(s) for s in journal["undo"])


def test_loss_on_lo_is_limited_to_the_port(store_path: Path) -> None:
    require_root("nftables")
    require_tool("nft")
    ctl = Controller(["net", "--loss", "100%", "--port", "39999", "--duration", "10m"],
                     store_path)
    assert "(lo port 39999)" in ctl.wait_applied()
    journal = ctl.journal()
    (step,) = [s for s in journal["undo"] if s["op"] == "nft_delete"]
    rules = subprocess.run(["nft", "list", "table", "inet", step["table"]],
                           capture_output=True, text=True, check=True).stdout
    assert "th dport 39999" in rules
    assert "th sport 39999" in rules
    ctl.signal(signal.SIGTERM)
    assert ctl.finish()[0] == 130
    assert step_restored(step)


def test_delay_through_the_fault_proxy(client: toxiproxy.Toxiproxy, chaos_server: object,
                                       echo: str, store_path: Path) -> None:
    """Without netem (this kernel) a delay is the fault proxy's latency toxic, removed after."""
    proxy = client.create(upstream=echo, name="svc", listen="127.0.0.1:0")
    api = f"http://127.0.0.1:{chaos_server.port}"  # type: ignore[attr-defined]
    ctl = Controller(["net", "--delay", "100ms", "--jitter", "20ms", "--proxy", "svc",
                      "--proxy-api", api, "--duration", "10m"], store_path)
    assert "latency toxic" in ctl.wait_applied()
    (toxic,) = client.get_proxy("svc").toxics().values()
    assert toxic.attributes["latency"] == 100
    assert toxic.attributes["jitter"] == 20
    ctl.signal(signal.SIGINT)
    assert ctl.finish()[0] == 130
    assert client.get_proxy("svc").toxics() == {}
    proxy.destroy()


@pytest.mark.parametrize(("args", "message"), [
    (["net", "--loss", "1%", "--iface", "eth0", "--duration", "1s"],
     "perflab does not inject network faults on 'eth0'"),
    (["net", "--loss", "1%", "--duration", "1s"], "a fault on lo needs --port"),
    (["net", "--loss", "1%", "--netns", "nosuchns", "--duration", "1s"],
     "no namespace perflab-nosuchns created by perflab"),
    (["net", "--loss", "1%", "--partition", "--port", "1", "--duration", "1s"],
     "give one fault"),
    (["net", "--rate", "1mbit", "--port", "1", "--duration", "1s"],
     "a rate limit on lo is not supported"),
    (["net", "--loss", "0%", "--port", "1", "--duration", "1s"], "--loss must be above 0 %"),
    (["net", "--duplicate", "0%", "--port", "1", "--duration", "1s"],
     "--duplicate must be above 0 %"),
    (["net", "--loss", "1%", "--jitter", "5ms", "--port", "1", "--duration", "1s"],
     "--jitter and --reorder go with --delay"),
    (["net", "--gemodel", "1%", "--port", "1", "--duration", "1s"],
     "--gemodel takes 2 to 4 shares"),
    (["net", "--gemodel", "1%,30%,1%,1%,1%", "--port", "1", "--duration", "1s"],
     "--gemodel takes 2 to 4 shares"),
    (["net", "--delay", "5ms", "--reorder", "5%", "--proxy", "svc", "--duration", "1s"],
     "the fault proxy cannot reorder packets"),
    (["netns", "create", "Bad_Name"], "invalid namespace name 'Bad_Name'"),
    (["netns", "delete", "nosuchns"], "no namespace perflab-nosuchns"),
])
def test_bad_network_input_is_one_line(args: list[str], message: str, store_path: Path) -> None:
    require_root("network faults")
    out = _perflab(*args, *(["--store", str(store_path)] if args[0] == "net" else []))
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith("perflab: error: ")
    assert message in out.stderr
    assert "Traceback" not in out.stderr
    assert "perflab_chaos_" not in subprocess.run(["nft", "list", "tables"],
                                                  capture_output=True, text=True,
                                                  check=True).stdout


def test_a_delay_without_netem_or_proxy_is_refused_clearly(store_path: Path) -> None:
    require_root("network faults")
    from perflab.chaos.faults._net import netem_available  # noqa: PLC0415

    if netem_available():
        pytest.skip("this kernel has netem: the delay would be applied")
    out = _perflab("net", "--delay", "100ms", "--port", "1", "--duration", "1s",
                   "--store", str(store_path))
    assert out.returncode == 2
    assert "this kernel has no netem (sch_netem)" in out.stderr
    assert "--proxy NAME" in out.stderr


NETEM_ONLY = [["--duplicate", "1%"], ["--corrupt", "0.5%"], ["--gemodel", "1%,30%"],
              ["--delay", "100ms", "--jitter", "10ms", "--reorder", "25%"]]


@pytest.mark.parametrize("fault", NETEM_ONLY)
def test_what_only_netem_does_is_refused_without_it(fault: list[str], netns: NetnsDoc,
                                                    store_path: Path) -> None:
    """This kernel has no netem: nothing is applied, and the message says netem is missing."""
    from perflab.chaos.faults._net import netem_available  # noqa: PLC0415

    if netem_available():
        pytest.skip("this kernel has netem: the fault would be applied")
    out = _perflab("net", *fault, "--netns", netns["name"], "--duration", "1s",
                   "--store", str(store_path))
    assert out.returncode == 2, out.stderr
    assert "needs netem (sch_netem), and this kernel has no netem" in out.stderr
    assert "Traceback" not in out.stderr
    qdiscs = subprocess.run(["ip", "netns", "exec", netns["netns"], "tc", "qdisc", "show"],
                            capture_output=True, text=True, check=True).stdout
    assert "7a1:" not in qdiscs


@pytest.mark.parametrize("spec", [
    NetSpec("duplicate", 1.0, duplicate=0.01), NetSpec("corrupt", 1.0, corrupt=0.005),
    NetSpec("gemodel", 1.0, gemodel=(0.01, 0.3)),
    NetSpec("gemodel", 1.0, gemodel=(0.01, 0.3, 1.0, 0.0)),
    NetSpec("delay", 1.0, delay_s=0.1, jitter_s=0.01, reorder=0.25)], ids=repr)
def test_netem_arguments_are_what_tc_parses(spec: NetSpec) -> None:
    """The qdisc perflab would add, given to the real tc in a throwaway namespace: tc's parser
    takes it (a kernel without netem then refuses the kind; one with netem adds it)."""
    require_root("a throwaway namespace")
    require_tool("tc")
    args = netem_args(spec)
    probe = f"perflab-t{secrets.token_hex(3)}"
    subprocess.run(["ip", "netns", "add", probe], check=True)
    try:
        out = subprocess.run(["ip", "netns", "exec", probe, "tc", "qdisc", "add", "dev", "lo",
                              "root", "handle", "7a1:", *args],
                             capture_output=True, text=True, check=False)
    finally:
        subprocess.run(["ip", "netns", "del", probe], check=True)
    assert out.returncode == 0 or "qdisc kind is unknown" in out.stderr, (args, out.stderr)


def test_netem_arguments_in_tc_netem_words() -> None:
    assert netem_args(NetSpec("delay", 1.0, delay_s=0.1, jitter_s=0.01, reorder=0.25)) == [
        "netem", "delay", "100ms", "10ms", "reorder", "25%"]
    assert netem_args(NetSpec("gemodel", 1.0, gemodel=(0.01, 0.3, 1.0, 0.0))) == [
        "netem", "loss", "gemodel", "1%", "30%", "100%", "0%"]
    assert netem_args(NetSpec("duplicate", 1.0, duplicate=0.01)) == ["netem", "duplicate", "1%"]
    assert netem_args(NetSpec("corrupt", 1.0, corrupt=0.005)) == ["netem", "corrupt", "0.5%"]


def test_network_faults_need_root(tmp_path: Path) -> None:
    require_root("becoming nobody")
    shared = Path(tempfile.mkdtemp(prefix="perflab-nobody-"))  # pytest's tmp is root's only
    shared.chmod(0o777)
    # what the command imports is loaded while root (nobody may not read this interpreter's files)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        main(["chaos", "net", "--loss", "1%", "--port", "1", "--duration", "1s", "--iface",
              "none", "--store", str(tmp_path / "root.db")])
    try:
        code, _, err = fork_as_nobody(["chaos", "net", "--loss", "1%", "--port", "1",
                                       "--duration", "1s", "--store", str(shared / "n.db")])
    finally:
        shutil.rmtree(shared)
    assert code == 3, err
    assert "perflab: error: net needs root" in err


@pytest.mark.parametrize("fault", [["--partition"], ["--rate", "1mbit"]])
def test_kill_9_of_a_network_fault_is_rolled_back(fault: list[str], netns: NetnsDoc,
                                                  store_path: Path) -> None:
    """Every network kind, as loss above: the watchdog deletes the table or the qdiscs."""
    ctl = Controller(["net", *fault, "--netns", netns["name"], "--duration", "10m"],
                     store_path)
    ctl.wait_applied()
    journal = ctl.journal()
    assert not all(step_restored(s) for s in journal["undo"])
    ctl.kill9()
    wait_for(lambda: not Path(journal["path"]).exists(), 30, "the watchdog's rollback")
    assert all(step_restored(s) for s in journal["undo"])
    wait_for(lambda: _echo(netns["ns_addr"]), 30, "traffic after the rollback")

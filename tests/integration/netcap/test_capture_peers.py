"""perflab capture against the real tcpdump, and capture summary against Wireshark's own
analysis (tshark's tcp.analysis fields) on a capture made under packet loss: two network
namespaces joined by a veth pair, nftables dropping 5 % of the segments each way at random
(this kernel has no netem). Counts must agree exactly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests._nobody import fork_as_nobody
from tests._schemas import validate
from tests.conftest import require_root, require_tool
from tests.integration.netcap._interrupt import interrupt

from perflab.cli import main
from perflab.store import nearest_rank

SRC = Path(__file__).resolve().parents[3] / "src"
PORT = 8080
LOSS_PERCENT = 5


def _sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=30)


def _nft_drop(ns: str, match: str) -> None:
    _sh("ip", "netns", "exec", ns, "nft", "add", "table", "inet", "lossy")
    _sh("ip", "netns", "exec", ns, "nft", "add", "chain", "inet", "lossy", "input",
        "{ type filter hook input priority 0; policy accept; }")
    _sh("ip", "netns", "exec", ns, "nft", "add", "rule", "inet", "lossy", "input", "tcp", match,
        str(PORT), "numgen", "random", "mod", "100", "lt", str(LOSS_PERCENT), "drop")


@pytest.fixture
def lossy_link() -> Iterator[tuple[str, str, str]]:
    """(client namespace, server namespace, client's interface): 10.77.0.1 <-> 10.77.0.2."""
    require_root("network namespaces and nftables")
    require_tool("nft")
    require_tool("ip")
    tag = uuid.uuid4().hex[:6]
    client, server, iface = f"plc-a-{tag}", f"plc-b-{tag}", f"plca{tag}"
    made: list[str] = []
    try:
        for ns in (client, server):
            _sh("ip", "netns", "add", ns)
            made.append(ns)
        _sh("ip", "link", "add", iface, "netns", client, "type", "veth", "peer", "name",
            f"plcb{tag}", "netns", server)
        _sh("ip", "-n", client, "addr", "add", "10.77.0.1/24", "dev", iface)
        _sh("ip", "-n", server, "addr", "add", "10.77.0.2/24", "dev", f"plcb{tag}")
        for ns, dev in ((client, iface), (server, f"plcb{tag}")):
            _sh("ip", "-n", ns, "link", "set", dev, "up")
            _sh("ip", "-n", ns, "link", "set", "lo", "up")
        _nft_drop(server, "dport")
        _nft_drop(client, "sport")
        yield client, server, iface
    finally:
        for ns in made:  # the veth pair goes with its namespaces
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)


def _tshark_count(tshark: str, pcap: str, display_filter: str) -> int:
    out = subprocess.run([tshark, "-r", pcap, "-Y", display_filter, "-T", "fields",
                          "-e", "frame.number"], check=True, capture_output=True, text=True,
                         timeout=120).stdout
    return len(out.split())


def _tshark_values(tshark: str, pcap: str, field: str) -> list[float]:
    out = subprocess.run([tshark, "-r", pcap, "-Y", field, "-T", "fields", "-e", field],
                         check=True, capture_output=True, text=True, timeout=120).stdout
    return [float(v) for line in out.split() for v in line.split(",")]


def _initial_rtts(tshark: str, pcap: str) -> dict[str, float]:
    """tcp.analysis.initial_rtt by TCP stream (tshark repeats it on each of its packets)."""
    out = subprocess.run([tshark, "-r", pcap, "-Y", "tcp.analysis.initial_rtt", "-T", "fields",
                          "-e", "tcp.stream", "-e", "tcp.analysis.initial_rtt"], check=True,
                         capture_output=True, text=True, timeout=120).stdout
    return {stream: float(rtt) for stream, rtt in (ln.split() for ln in out.splitlines())}


def _wait_for(path: Path, size: int, proc: subprocess.Popen[bytes] | None) -> None:
    deadline = time.monotonic() + 30
    while not (path.exists() and path.stat().st_size >= size):
        assert proc is None or proc.poll() is None, proc and proc.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_summary_agrees_with_tshark_under_loss(lossy_link: tuple[str, str, str],
                                               tmp_path: Path) -> None:
    tshark = require_tool("tshark")
    require_tool("tcpdump")
    require_tool("curl")
    client, server, iface = lossy_link
    (tmp_path / "blob").write_bytes(os.urandom(2_000_000))
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    web = subprocess.Popen(["ip", "netns", "exec", server, sys.executable, "-m", "http.server",
                            str(PORT), "--bind", "10.77.0.2", "-d", str(tmp_path)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out = tmp_path / "lossy.pcap"
    cap = subprocess.Popen(["ip", "netns", "exec", client, sys.executable, "-m", "perflab",
                            "capture", "--iface", iface, "--port", str(PORT), "-d", "120s",
                            "-o", str(out), "--json"], env=env, stdout=subprocess.PIPE)
    try:
        _wait_for(out, 24, cap)  # the pcap header: tcpdump is listening
        for _ in range(3):
            subprocess.run(["ip", "netns", "exec", client, "curl", "-sS", "--retry", "20",
                            "--retry-connrefused", "--retry-delay", "1", "-o", "/dev/null",
                            f"http://10.77.0.2:{PORT}/blob"], check=True, timeout=120)
        stdout = interrupt(cap, 30)  # ends the capture early, as Ctrl-C does
    finally:
        for proc in (cap, web):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    captured = validate(json.loads(stdout), "capture")

    done = subprocess.run([sys.executable, "-m", "perflab", "capture", "summary", str(out),
                           "--json"], env=env, check=True, capture_output=True, text=True)
    doc = validate(json.loads(done.stdout), "capture-summary")
    totals = doc["totals"]
    assert totals["retransmissions"] > 0, "no loss happened: the comparison would prove little"
    assert totals["retransmissions"] == _tshark_count(tshark, str(out),
                                                      "tcp.analysis.retransmission")
    assert totals["dup_acks"] == _tshark_count(tshark, str(out), "tcp.analysis.duplicate_ack")
    assert totals["zero_windows"] == _tshark_count(tshark, str(out), "tcp.analysis.zero_window")
    assert totals["resets"] == _tshark_count(tshark, str(out), "tcp.flags.reset == 1")
    rtts = [v * 1000 for v in _tshark_values(tshark, str(out), "tcp.analysis.ack_rtt")]
    assert totals["rtt_ms"]["count"] == len(rtts)
    for pct in (50, 90, 99):
        assert totals["rtt_ms"][f"p{pct}"] == pytest.approx(nearest_rank(rtts, pct), abs=1e-6)
    initial = sorted(v * 1000 for v in _initial_rtts(tshark, str(out)).values())
    ours = sorted(f["handshake_rtt_ms"] for f in doc["flows"])
    assert ours == pytest.approx(initial, abs=1e-6)
    if captured["packets_dropped"] == 0:  # else a response's end may be missing (tcpdump lost it)
        assert [r["count"] for r in doc["http"] if r["path"] == "/blob"] == [3]


def test_no_such_interface(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require_tool("tcpdump")
    require_root("capturing packets")
    code = main(["capture", "--iface", "nosuch0", "-d", "1s", "-o", str(tmp_path / "x.pcap")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.splitlines() == [
        "perflab: error: no interface 'nosuch0': nosuch0: No such device exists",
        "  hint: list interfaces with `ip -br link`; --iface any captures all"]


def test_bad_filter(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require_tool("tcpdump")
    require_root("capturing packets")
    code = main(["capture", "--iface", "lo", "-d", "1s", "-o", str(tmp_path / "x.pcap"),
                 "tcp", "port", "and"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("perflab: error: bad capture filter 'tcp port and': ")
    assert "\n  hint: the filter uses tcpdump's syntax" in err


def test_no_permission_as_nobody(tmp_path: Path) -> None:
    require_tool("tcpdump")
    require_root("switching to nobody")
    tmp_path.chmod(0o777)
    code, _, err = fork_as_nobody(["capture", "--iface", "lo", "-d", "1s",
                                   "-o", str(tmp_path / "x.pcap")])
    assert code == 3
    assert err.splitlines()[0] == "perflab: error: no permission to capture on 'lo'"
    assert "setcap cap_net_raw" in err


def test_capture_on_loopback_for_its_duration(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    require_tool("tcpdump")
    require_root("capturing packets")
    out = tmp_path / "lo.pcap"
    assert main(["capture", "--iface", "lo", "--port", "9", "-d", "1s", "-o", str(out),
                 "--json"]) == 0
    doc = validate(json.loads(capsys.readouterr().out), "capture")
    assert doc["files"] == [str(out)]
    assert doc["packets_captured"] == 0
    assert main(["capture", "summary", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["totals"]["flows"] == 0


def test_ring_of_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require_tool("tcpdump")
    require_root("capturing packets")
    import socket  # noqa: PLC0415
    import threading  # noqa: PLC0415

    from perflab.serving import listening_socket  # noqa: PLC0415

    sink = listening_socket("127.0.0.1", 0)
    port = sink.getsockname()[1]

    def drain() -> None:
        conn, _ = sink.accept()
        with conn:
            while conn.recv(1 << 16):
                pass

    def send() -> None:
        _wait_for(tmp_path / "r.pcap0", 24, None)
        with socket.create_connection(("127.0.0.1", port)) as c:
            for _ in range(40):
                c.sendall(b"x" * 100_000)

    threads = [threading.Thread(target=drain), threading.Thread(target=send)]
    for t in threads:
        t.start()
    code = main(["capture", "--iface", "lo", "--port", str(port), "-d", "3s",
                 "-o", str(tmp_path / "r.pcap"), "--ring", "2", "--ring-size", "1MB", "--json"])
    for t in threads:
        t.join(30)
    sink.close()
    assert code == 0
    doc = validate(json.loads(capsys.readouterr().out), "capture")
    assert [Path(f).name for f in sorted(doc["files"])] == ["r.pcap0", "r.pcap1"]
    assert all(Path(f).stat().st_size <= 1_100_000 for f in doc["files"])

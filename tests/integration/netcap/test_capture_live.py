"""perflab capture --live against the real tcpdump on loopback: HTTP traffic (and a reset) made
while it runs, Ctrl-C to end it; its summary must equal `capture summary` of the file it read
(-o), and its series, written on the run while it ran, must equal
those `capture summary --record` stores for that file."""

from __future__ import annotations

import json
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from tests._schemas import validate
from tests.conftest import require_root, require_tool
from tests.integration.netcap._interrupt import interrupt

from perflab.cli import main
from perflab.netcap import summarize
from perflab.store import Store

SRC = Path(__file__).resolve().parents[3] / "src"
BODY = b"z" * 150_000
_WAIT_S = 60.0  # generous: the machine may be busy


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = BODY if self.path.startswith("/big") else b"small"
        self.send_response(200 if self.path != "/missing" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:  # quiet
        pass


class _Server(ThreadingHTTPServer):
    def handle_error(self, *_: Any) -> None:  # the connection reset on purpose
        pass


def _wait_until(what: str, ready: Any, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + _WAIT_S
    while not ready():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.05)


def _traffic(port: int) -> None:
    for i in range(12):
        path = ("/big", "/small?x=1", "/missing")[i % 3]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as r:
                r.read()
        except urllib.error.HTTPError as err:
            with err:
                err.read()
    with socket.create_connection(("127.0.0.1", port)) as c:  # closed with a reset
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _seen(pcap: Path) -> tuple[int, int]:
    """(flows, resets) in the live run's file so far."""
    totals = summarize(str(pcap))["totals"]
    return totals["flows"], totals["resets"]


def _series(store: Store, run_id: int) -> dict[str, list[tuple[int, float]]]:
    return {s.name: store.samples(s.id) for s in store.series(run_id)}


def test_live_equals_summary_of_the_same_packets(tmp_path: Path) -> None:
    require_tool("tcpdump")
    require_root("capturing packets")
    server = _Server(("127.0.0.1", 0), _Handler)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    out, db = tmp_path / "live.pcap", str(tmp_path / "s.db")
    live = subprocess.Popen(
        [sys.executable, "-m", "perflab", "capture", "--live", "--iface", "lo", "--port",
         str(port), "-d", "300s", "-i", "200ms", "-o", str(out), "--json", "--record",
         "--name", "live", "--store", db],
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        stdout=subprocess.PIPE)
    try:
        _wait_until("the pcap header saved", lambda: out.exists() and out.stat().st_size >= 24,
                    live)
        _traffic(port)
        _wait_until("every packet read and saved", lambda: _seen(out) == (13, 1), live)
        with Store.open(db, create=False) as store:  # series land on the run while it runs
            run = store.run("live")
            assert run.status == "running"
            _wait_until("a second written", lambda: any(
                store.samples(s.id) for s in store.series(run.id)), live)
        stdout = interrupt(live, _WAIT_S)  # Ctrl-C: ends it, the summary is kept
    finally:
        server.shutdown()
        server.server_close()
        if live.poll() is None:  # an assertion above failed
            live.kill()
            live.wait()
    doc = validate(json.loads(stdout), "capture-summary")
    done = subprocess.run([sys.executable, "-m", "perflab", "capture", "summary", str(out),
                           "--json", "--record", "--name", "saved", "--store", db],
                          env={"PYTHONPATH": str(SRC)}, check=True, capture_output=True)
    saved = validate(json.loads(done.stdout), "capture-summary")
    totals = doc["totals"]
    assert totals["flows"] == 13
    assert totals["resets"] == 1
    assert sorted((r["method"], r["path"], r["count"]) for r in doc["http"]) == [
        ("GET", "/big", 4), ("GET", "/missing", 4), ("GET", "/small", 4)]
    assert doc.pop("run") != saved.pop("run")
    assert doc == saved  # every flow, route and total, to the last RTT
    with Store.open(db, create=False) as store:
        live_run, saved_run = store.run("live"), store.run("saved")
        assert live_run.status == "ok"
        assert _series(store, live_run.id) == _series(store, saved_run.id)


def test_live_text_view_shows_a_table_each_interval(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    require_tool("tcpdump")
    require_root("capturing packets")
    db = tmp_path / "s.db"
    assert main(["capture", "--live", "--iface", "lo", "--port", "9", "-d", "1s",
                 "-i", "300ms", "--record", "--store", str(db)]) == 0
    out = capsys.readouterr().out
    assert ": 0 frames, 0 flows, retrans 0" in out  # a tick: the first comes before the end
    assert "packets captured on lo" in out
    assert "0 frames, 0 TCP flows" in out
    assert "series recorded on run 1 (perflab show 1)" in out
    with Store.open(str(db), create=False) as store:
        run = store.run(1)
        assert (run.kind, run.name, run.status) == ("capture", "live lo", "ok")
        assert list(store.series(run.id)) == []  # no packets, no points
    assert not list(tmp_path.glob("*.pcap"))  # without -o, no pcap is kept


def test_live_adds_to_an_existing_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require_tool("tcpdump")
    require_root("capturing packets")
    db = str(tmp_path / "s.db")
    with Store.open(db) as store:
        run_id = store.create_run("load", "mine").id
    assert main(["capture", "--live", "--iface", "lo", "--port", "9", "-d", "300ms",
                 "--run", str(run_id), "--store", db, "--json"]) == 0
    doc = validate(json.loads(capsys.readouterr().out), "capture-summary")
    assert doc["run"] == run_id
    with Store.open(db, create=False) as store:
        assert store.run(run_id).kind == "load"  # the run stays the caller's
        assert len(store.runs()) == 1


def test_live_bad_filter_is_tcpdumps_error(capsys: pytest.CaptureFixture[str]) -> None:
    require_tool("tcpdump")
    require_root("capturing packets")
    assert main(["capture", "--live", "--iface", "lo", "-d", "1s", "tcp", "port", "and"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("perflab: error: bad capture filter 'tcp port and': ")


def _children() -> list[str]:
    """The commands of this process's children."""
    pids = [p for task in Path("/proc/self/task").iterdir()
            for p in (task / "children").read_text().split()]
    return [Path(f"/proc/{p}/comm").read_text().strip() for p in pids
            if Path(f"/proc/{p}/comm").exists()]


def test_an_error_while_live_stops_tcpdump(capsys: pytest.CaptureFixture[str]) -> None:
    require_tool("tcpdump")
    require_root("capturing packets")
    # nflog's frames are of a link type perflab does not decode: the first interval says so
    assert main(["capture", "--live", "--iface", "nflog", "-d", "30s", "-i", "100ms"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("perflab: error: -: link type 239 is not one perflab decodes\n")
    assert "tcpdump" not in _children()  # stopped, not left running for its 30 s

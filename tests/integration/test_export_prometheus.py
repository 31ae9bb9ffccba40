"""perflab export with the real Prometheus tools: promtool lints the exposition and a Prometheus
server scrapes the exporter every second and answers queries for node_exporter's names."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from conftest import require_tool
from perflab.testing import free_port

pytestmark = pytest.mark.integration

SRC = Path(__file__).parent.parent.parent / "src"
CAMEL = "metric names should be written in 'snake_case' not 'camelCase'"
# Families that keep the kernel's field names, camelCase included, exactly as node_exporter
# exposes them (node_memory_MemAvailable_bytes, node_netstat_TcpExt_ListenOverflows): the one
# lint rule their names cannot follow without breaking every node_exporter dashboard.
KERNEL_NAMED = ("node_memory_", "node_netstat_")


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return resp.read()


@pytest.fixture
def target():
    """The process whose metrics we export: a sleeper we own."""
    proc = subprocess.Popen(["sleep", "120"])
    yield proc.pid
    proc.kill()
    proc.wait(5)


@pytest.fixture
def exporter(target):
    proc = subprocess.Popen(
        [sys.executable, "-m", "perflab", "export", "--listen", "127.0.0.1:0", "--pid",
         str(target)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(SRC)})
    assert proc.stdout is not None
    assert proc.stderr is not None
    try:
        line = proc.stdout.readline()
        assert line.startswith("perflab export: serving http://127.0.0.1:"), line
        yield line.split()[3]
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(10)
        stderr = proc.stderr.read()
        proc.stdout.close()
        proc.stderr.close()
    assert code == 0, stderr
    assert "stopped" in stderr


def test_promtool_finds_nothing_but_kernel_field_names(exporter):
    promtool = require_tool("promtool")
    body = get(exporter)
    result = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True,
                            check=False)
    problems = result.stdout.decode().splitlines() + result.stderr.decode().splitlines()
    assert not any("error" in p for p in problems), problems  # it parses
    unexpected = [p for p in problems
                  if not (p.endswith(CAMEL) and p.startswith(KERNEL_NAMED))]
    assert unexpected == []
    assert b"# TYPE node_cpu_seconds_total counter" in body


def test_prometheus_scrapes_the_exporter(exporter, target, tmp_path):
    prometheus = require_tool("prometheus")
    exporter_addr = urllib.parse.urlsplit(exporter).netloc
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: perflab\n"
        f"    static_configs: [{{targets: ['{exporter_addr}']}}]\n")
    server = subprocess.Popen(
        [prometheus, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    api = f"http://127.0.0.1:{port}/api/v1/query?query="

    def query(promql: str) -> list[dict]:
        doc = json.loads(get(api + urllib.parse.quote(promql)))
        assert doc["status"] == "success"
        return doc["data"]["result"]

    try:
        deadline = time.monotonic() + 60
        results: list[dict] = []
        while time.monotonic() < deadline:
            try:
                results = query('node_memory_MemAvailable_bytes{job="perflab"}')
            except OSError:
                results = []  # not listening yet
            if results:
                break
            time.sleep(0.5)
        assert results, "Prometheus never stored node_memory_MemAvailable_bytes"
        assert results[0]["metric"]["instance"] == exporter_addr
        assert float(results[0]["value"][1]) > 0

        cpu = query('node_cpu_seconds_total{job="perflab"}')
        assert len(cpu) == 8 * (os.cpu_count() or 1)  # 8 modes per core
        assert {r["metric"]["mode"] for r in cpu} >= {"user", "system", "idle", "iowait"}
        assert query('up{job="perflab"}')[0]["value"][1] == "1"
        proc = query(f'process_resident_memory_bytes{{pid="{target}"}}')
        assert proc[0]["metric"]["name"] == "sleep"
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)
        if server.stderr is not None:
            server.stderr.close()


# The families the brief and node_exporter-based dashboards rely on: they must exist on both
# sides with the same type, HELP and label names.
CORE = {
    "node_cpu_seconds", "node_context_switches", "node_forks", "node_procs_running",
    "node_procs_blocked", "node_boot_time_seconds", "node_memory_MemAvailable_bytes",
    "node_memory_MemTotal_bytes", "node_load1", "node_load5", "node_load15",
    "node_pressure_cpu_waiting_seconds", "node_pressure_io_stalled_seconds",
    "node_pressure_memory_waiting_seconds", "node_disk_reads_completed",
    "node_disk_writes_completed", "node_disk_read_bytes", "node_disk_written_bytes",
    "node_disk_read_time_seconds", "node_disk_write_time_seconds", "node_disk_io_time_seconds",
    "node_disk_io_time_weighted_seconds", "node_disk_io_now", "node_network_receive_bytes",
    "node_network_transmit_packets", "node_network_receive_errs", "node_network_transmit_drop",
    "node_netstat_Tcp_RetransSegs", "node_netstat_TcpExt_ListenOverflows",
    "node_vmstat_pgmajfault", "node_tcp_connection_states",
}


def families(text: str) -> dict[str, tuple[str, str, frozenset[str]]]:
    from prometheus_client.parser import text_string_to_metric_families  # noqa: PLC0415

    return {f.name: (f.type, f.documentation,
                     frozenset(k for s in f.samples for k in s.labels))
            for f in text_string_to_metric_families(text)}


def test_same_names_types_help_and_labels_as_node_exporter(exporter):
    node_exporter = require_tool("prometheus-node-exporter")
    port = free_port()
    peer = subprocess.Popen(
        [node_exporter, f"--web.listen-address=127.0.0.1:{port}", "--collector.disable-defaults",
         *(f"--collector.{c}" for c in ("cpu", "stat", "meminfo", "loadavg", "pressure",
                                        "diskstats", "netdev", "netstat", "vmstat",
                                        "tcpstat"))],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        theirs_text = ""
        deadline = time.monotonic() + 20
        while not theirs_text and time.monotonic() < deadline:
            try:
                theirs_text = get(f"http://127.0.0.1:{port}/metrics").decode()
            except OSError:
                time.sleep(0.2)
    finally:
        peer.terminate()
        peer.wait(10)
    theirs = {n: f for n, f in families(theirs_text).items() if n.startswith("node_")}
    ours = families(get(exporter).decode())
    missing = {n for n in CORE if n not in ours or n not in theirs}
    assert missing == set()
    common = (set(ours) & set(theirs)) - {"node_scrape_collector_success"}
    assert len(common) > 100
    assert {n: ours[n] for n in common} == {n: theirs[n] for n in common}

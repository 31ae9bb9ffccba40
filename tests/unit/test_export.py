"""perflab export: node_exporter-named families from a fake /proc, process_* families, the
cached exposition, the listen-address rules and the HTTP server."""

from __future__ import annotations

import json
import os
import socket
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from perflab.cli import main
from perflab.errors import EXIT_TARGET, EXIT_USAGE, TargetError, UsageError
from perflab.export import (
    Exposition,
    ListenAddress,
    MetricsServer,
    PerflabCollector,
    check_exposure,
    parse_listen,
)
from perflab.export._node import meminfo_metric_name

PROC = Path(__file__).parent.parent / "fixtures" / "proc_export"
HZ = os.sysconf("SC_CLK_TCK")


def scrape(collector: PerflabCollector) -> dict[str, dict]:
    """name -> {"type": ..., "help": ..., "samples": {frozenset(labels): value}}."""
    text = Exposition(collector).render().decode()
    out = {}
    for fam in text_string_to_metric_families(text):
        samples = {frozenset(s.labels.items()): s.value for s in fam.samples}
        out[fam.name] = {"type": fam.type, "help": fam.documentation, "samples": samples}
    return out


def value(fams: dict, metric: str, /, **labels: str) -> float:
    family = metric.removesuffix("_total")
    family = family if family in fams else metric
    return fams[family]["samples"][frozenset(labels.items())]


@pytest.fixture(scope="module")
def fams() -> dict[str, dict]:
    return scrape(PerflabCollector(PROC, pids=[4243], names=["nginx"]))


def test_cpu_seconds_per_core_and_mode_as_node_exporter(fams):
    assert fams["node_cpu_seconds"]["type"] == "counter"
    assert fams["node_cpu_seconds"]["help"] == "Seconds the CPUs spent in each mode."
    assert value(fams, "node_cpu_seconds_total", cpu="1", mode="user") == pytest.approx(3899 / HZ)
    assert value(fams, "node_cpu_seconds_total", cpu="0", mode="steal") == pytest.approx(2 / HZ)
    modes = {dict(k)["mode"] for k in fams["node_cpu_seconds"]["samples"]}
    assert modes == {"user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"}


def test_stat_loadavg_and_pressure(fams):
    assert value(fams, "node_context_switches_total") == 507613
    assert value(fams, "node_forks_total") == 10293
    assert value(fams, "node_procs_blocked") == 1
    assert value(fams, "node_boot_time_seconds") == 1795796503
    assert value(fams, "node_load15") == pytest.approx(0.12)
    assert value(fams, "node_pressure_cpu_waiting_seconds_total") == pytest.approx(8.26939)
    assert value(fams, "node_pressure_io_stalled_seconds_total") == pytest.approx(1.883121)
    assert value(fams, "node_pressure_memory_waiting_seconds_total") == pytest.approx(1.5)


def test_meminfo_names_follow_node_exporter():
    assert meminfo_metric_name("MemAvailable") == "node_memory_MemAvailable_bytes"
    assert meminfo_metric_name("Active(anon)") == "node_memory_Active_anon_bytes"
    assert meminfo_metric_name("HugePages_Total") == "node_memory_HugePages_Total"


def test_meminfo_values_in_bytes(fams):
    assert value(fams, "node_memory_MemAvailable_bytes") == 24258268 * 1024
    assert fams["node_memory_MemAvailable_bytes"]["type"] == "gauge"
    assert fams["node_memory_MemAvailable_bytes"]["help"] == (
        "Memory information field MemAvailable_bytes.")
    assert "node_memory_HugePages_Total" in fams


def test_diskstats_whole_devices_only(fams):
    devices = {dict(k)["device"] for k in fams["node_disk_read_bytes"]["samples"]}
    assert devices == {"vda"}  # not the vda1 partition, not loop0
    assert value(fams, "node_disk_read_bytes_total", device="vda") == 3184514 * 512
    assert value(fams, "node_disk_io_now", device="vda") == 2
    assert value(fams, "node_disk_io_time_weighted_seconds_total", device="vda") == 24.779


def test_network_devices(fams):
    assert value(fams, "node_network_receive_errs_total", device="eth0") == 1
    assert value(fams, "node_network_transmit_drop_total", device="eth0") == 4
    assert value(fams, "node_network_receive_bytes_total", device="lo") == 3417


def test_netstat_and_vmstat_use_node_exporter_default_fields(fams):
    assert value(fams, "node_netstat_TcpExt_ListenOverflows") == 7
    assert value(fams, "node_netstat_Tcp_RetransSegs") == 11
    assert fams["node_netstat_Tcp_RetransSegs"]["type"] == "unknown"  # untyped, as theirs
    assert "node_netstat_Tcp_RtoMin" not in fams  # outside the default field filter
    assert "node_vmstat_pgfault" in fams
    assert "node_vmstat_nr_free_pages" not in fams


def test_tcp_connection_states(fams):
    assert value(fams, "node_tcp_connection_states", state="established") == 3
    assert value(fams, "node_tcp_connection_states", state="listen") == 4
    assert value(fams, "node_tcp_connection_states", state="time_wait") == 1


def test_process_families_for_pid_and_name_matches(fams):
    pids = {dict(k)["pid"] for k in fams["process_cpu_seconds"]["samples"]}
    assert pids == {"4242", "4243", "4244"}  # --pid 4243 and both processes named nginx
    worker = {"pid": "4243", "name": "my worker (1)"}
    assert value(fams, "process_cpu_seconds_total", **worker) == pytest.approx(120 / HZ)
    assert value(fams, "process_threads", **worker) == 4
    assert value(fams, "process_resident_memory_bytes", **worker) == 5120 * os.sysconf(
        "SC_PAGE_SIZE")
    assert value(fams, "process_start_time_seconds", **worker) == pytest.approx(
        1795796503 + 2000 / HZ)
    nginx = {"pid": "4242", "name": "nginx"}
    assert value(fams, "process_open_fds", **nginx) == 4
    assert value(fams, "process_io_write_bytes_total", **nginx) == 8192
    assert value(fams, "process_major_page_faults_total", **nginx) == 3


def test_no_process_families_without_selection():
    fams = scrape(PerflabCollector(PROC))
    assert not any(name.startswith("process_") for name in fams)


def test_missing_pid_is_refused_before_serving():
    with pytest.raises(TargetError) as err:
        PerflabCollector(PROC, pids=[999999]).check_pids()
    assert err.value.exit_code == EXIT_TARGET


def test_exposition_is_cached_at_most_one_second():
    now = [100.0]
    exp = Exposition(PerflabCollector(PROC), mono_clock=lambda: now[0])
    exp.render()
    now[0] += 0.5
    exp.render()
    assert exp.renders == 1
    now[0] += 0.6
    exp.render()
    assert exp.renders == 2


@pytest.mark.parametrize(("text", "host", "port"), [
    ("127.0.0.1:9100", "127.0.0.1", 9100),
    ("[::1]:9100", "::1", 9100),
    ("localhost:0", "localhost", 0),
    (":9100", "0.0.0.0", 9100),
])
def test_parse_listen(text, host, port):
    assert parse_listen(text) == ListenAddress(host, port)


@pytest.mark.parametrize("text", ["9100", "127.0.0.1:", "127.0.0.1:99999", "host:port"])
def test_parse_listen_rejects_malformed(text):
    with pytest.raises(UsageError):
        parse_listen(text)


def test_non_loopback_refused_without_a_token():
    check_exposure(ListenAddress("127.0.0.1", 9100), token=None)
    check_exposure(ListenAddress("::1", 9100), token=None)
    check_exposure(ListenAddress("localhost", 9100), token=None)
    with pytest.raises(UsageError, match="without a token"):
        check_exposure(ListenAddress("0.0.0.0", 9100), token=None)
    check_exposure(ListenAddress("0.0.0.0", 9100), token="s3cret")


@pytest.fixture
def server():
    srv = MetricsServer(ListenAddress("127.0.0.1", 0), Exposition(PerflabCollector(PROC)))
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(5)


def test_server_serves_metrics_index_and_404(server):
    base = server.url.removesuffix("/metrics")
    with urllib.request.urlopen(server.url, timeout=5) as resp:
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        assert b"node_cpu_seconds_total" in resp.read()
    with urllib.request.urlopen(base + "/", timeout=5) as resp:
        assert b'href="/metrics"' in resp.read()
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(base + "/nope", timeout=5)
    assert err.value.code == 404
    err.value.close()


def test_port_in_use_is_a_one_line_error_with_exit_3(capsys):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        code = main(["export", "--listen", f"127.0.0.1:{port}", "--proc-root", str(PROC)])
    assert code == EXIT_TARGET
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (
        f"perflab: error: cannot listen on 127.0.0.1:{port}: the port is already in use")
    assert err[1].startswith("  hint: pick another port")


def test_cli_refuses_remote_listen_without_a_token(capsys):
    assert main(["export", "--listen", "0.0.0.0:9100", "--proc-root", str(PROC)]) == EXIT_USAGE
    assert "--token-file" in capsys.readouterr().err


def _get(url: str, headers: dict[str, str]) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers=headers)  # our loopback server
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, err.read()


def test_server_refuses_other_host_names_421(server):
    """DNS rebinding: a page whose name resolves to 127.0.0.1 must not read the exporter."""
    code, body = _get(server.url, {"Host": "evil.example"})
    assert code == 421
    assert json.loads(body)["status"] == 421
    assert _get(server.url, {"Host": "localhost:9100"})[0] == 200


def test_server_with_a_token_needs_the_bearer_header():
    srv = MetricsServer(ListenAddress("127.0.0.1", 0), Exposition(PerflabCollector(PROC)),
                        token="s3cret", allowed_hosts=("prom.example",))
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        assert _get(srv.url, {})[0] == 401
        assert _get(srv.url, {"Authorization": "Bearer nope"})[0] == 401
        code, body = _get(srv.url, {"Authorization": "Bearer s3cret", "Host": "prom.example"})
        assert code == 200
        assert b"node_cpu_seconds_total" in body
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)


def test_cli_unknown_pid_exit_3(capsys):
    assert main(["export", "--once", "--pid", "999999", "--proc-root", str(PROC)]) == EXIT_TARGET
    assert "no process with PID 999999" in capsys.readouterr().err


def test_cli_once_prints_the_exposition(capsysbinary):
    assert main(["export", "--once", "--match", "nginx", "--proc-root", str(PROC)]) == 0
    out = capsysbinary.readouterr().out.decode()
    assert "# TYPE node_cpu_seconds_total counter" in out
    assert 'process_open_fds{name="nginx",pid="4244"} 2.0' in out


def test_scrape_failure_answers_500_and_keeps_serving(tmp_path):
    srv = MetricsServer(ListenAddress("127.0.0.1", 0), Exposition(PerflabCollector(tmp_path)))
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        for _ in range(2):
            with pytest.raises(urllib.error.HTTPError) as err:
                urllib.request.urlopen(srv.url, timeout=5)
            assert err.value.code == 500
            assert b"collecting failed" in err.value.read()
            err.value.close()
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)


def test_cli_unreadable_proc_is_exit_3(tmp_path, capsys):
    assert main(["export", "--once", "--proc-root", str(tmp_path)]) == EXIT_TARGET
    assert capsys.readouterr().err.startswith(f"perflab: error: cannot read {tmp_path}")


def test_public_surface_of_perflab_export():
    import perflab.export  # noqa: PLC0415

    assert sorted(perflab.export.__all__) == [
        "Exposition", "ListenAddress", "MetricsServer", "PerflabCollector", "check_exposure",
        "parse_listen"]
    assert all(hasattr(perflab.export, name) for name in perflab.export.__all__)

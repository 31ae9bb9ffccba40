"""The forward and syslog ports in ``perflab serve``: a default port that is taken is a warning
and that receiver stays off; one asked for is exit 3 naming its option; off loopback needs
``--allow-remote-logs`` (these protocols carry no token) and warns; and a real ``perflab
serve`` takes syslog on its port."""

from __future__ import annotations

import socket
import subprocess
import sys
from typing import Any

import pytest
from tests.unit.logs._logrows import wait_stored
from tests.unit.trace.test_trace_serve_ports import _ctx, taken

__all__ = ["taken"]  # the fixture of a port in use, shared with the span receivers' tests

from perflab.cli._log_receivers import open_log_receivers
from perflab.errors import TargetError, UsageError
from perflab.testing import serve


def _opts(**over: Any) -> dict[str, Any]:
    base = {"fluent_forward": "127.0.0.1:0", "no_fluent_forward": False,
            "fluent_shared_key": None, "syslog": "127.0.0.1:0", "no_syslog": False,
            "allow_remote_logs": False}
    return {**base, **over}


def _close(hub: Any) -> None:
    for sock in hub.ports.sockets():
        sock.close()


@pytest.mark.parametrize("name", ["fluent_forward", "syslog"])
def test_a_taken_default_port_is_a_warning_and_the_receiver_stays_off(taken, name, capsys):
    hub = open_log_receivers(_ctx(set()), _opts(**{name: f"127.0.0.1:{taken}"}))
    _close(hub)
    flag = "--" + name.replace("_", "-")
    assert f"{flag} 127.0.0.1:{taken} is taken" in capsys.readouterr().err
    assert [e.split()[0] for e in hub.endpoints] == [
        n for n in ("fluent-forward", "syslog") if n != flag.removeprefix("--")]


@pytest.mark.parametrize("name", ["fluent_forward", "syslog"])
def test_a_taken_port_asked_for_is_exit_3_naming_the_option(taken, name):
    flag = "--" + name.replace("_", "-")
    with pytest.raises(TargetError, match=flag) as err:
        open_log_receivers(_ctx({name}), _opts(**{name: f"127.0.0.1:{taken}"}))
    assert err.value.exit_code == 3


def test_off_loopback_needs_allow_remote_logs_and_warns(capsys):
    with pytest.raises(UsageError, match=r"--syslog 0\.0\.0\.0:0 is off loopback") as err:
        open_log_receivers(_ctx({"syslog"}), _opts(syslog="0.0.0.0:0"))
    assert (err.value.exit_code, "--allow-remote-logs" in (err.value.hint or "")) == (2, True)
    hub = open_log_receivers(_ctx({"syslog"}), _opts(syslog="0.0.0.0:0",
                                                    allow_remote_logs=True))
    _close(hub)
    assert "accepts log lines from anyone" in capsys.readouterr().err
    assert hub.ports.syslog_udp is not None


def test_the_command_line_refuses_remote_syslog_with_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "perflab", "serve", "--store",
                        str(tmp_path / "s.db"), "--listen", "127.0.0.1:0", "--no-otlp-http",
                        "--no-otlp-grpc", "--no-zipkin", "--no-fluent-forward",
                        "--syslog", "0.0.0.0:0"], capture_output=True, text=True, timeout=60,
                       check=False)
    assert r.returncode == 2
    assert r.stderr.startswith("perflab: error: --syslog 0.0.0.0:0 is off loopback")
    assert "Traceback" not in r.stderr


def test_perflab_serve_takes_syslog_over_udp(tmp_path):
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    store = tmp_path / "s.db"
    with serve(store, "--no-record", "--syslog", f"127.0.0.1:{port}") as hub, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        assert f"syslog 127.0.0.1:{port}" in hub.log_path.read_text()
        udp.sendto(b"<11>1 - h app - - - from udp", ("127.0.0.1", port))
        rows = wait_stored(store, 1)
    assert (rows[0]["line"], rows[0]["level"], rows[0]["labels"]["app"]) == (
        "from udp", "error", "app")


def test_a_stop_with_connections_open_is_quiet_and_keeps_what_was_taken(tmp_path):
    import signal  # noqa: PLC0415

    import msgpack  # noqa: PLC0415

    from perflab.testing import free_port  # noqa: PLC0415

    store = tmp_path / "s.db"
    fwd, syslog = free_port(), free_port()
    with serve(store, "--no-record", "--fluent-forward", f"127.0.0.1:{fwd}", "--syslog",
               f"127.0.0.1:{syslog}") as hub, \
            socket.create_connection(("127.0.0.1", fwd)) as a, \
            socket.create_connection(("127.0.0.1", syslog)) as b:
        a.sendall(msgpack.packb(["t", 1, {"message": "taken"}]))
        b.sendall(b"<13>a frame not finished")
        wait_stored(store, 1)
        hub.process.send_signal(signal.SIGINT)
        assert hub.process.wait(60) == 0
        assert "Traceback" not in hub.log_path.read_text()
    assert [r["line"] for r in wait_stored(store, 1)] == ["taken"]

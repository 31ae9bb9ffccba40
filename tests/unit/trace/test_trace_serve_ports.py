"""The receivers' ports in ``perflab serve``: a default port that is taken is a warning and that
receiver stays off; a port asked for with its option is exit 3 naming the option; off loopback
needs a token; the test helper leaves the default ports alone."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from click.core import ParameterSource

from perflab.cli._receivers import open_receivers
from perflab.errors import TargetError, UsageError
from perflab.testing import _receiver_args


class Ctx:
    def __init__(self, asked: set[str]) -> None:
        self.asked = asked

    def get_parameter_source(self, name: str) -> ParameterSource:
        return ParameterSource.COMMANDLINE if name in self.asked else ParameterSource.DEFAULT


def _ctx(asked: set[str]) -> Any:
    """What open_receivers asks of click's context: where each option's value came from."""
    return Ctx(asked)


def _opts(**over):
    base = {"otlp_http": "127.0.0.1:0", "no_otlp_http": False, "otlp_grpc": "127.0.0.1:0",
            "no_otlp_grpc": False, "zipkin": "127.0.0.1:0", "no_zipkin": False,
            "forward_otlp": None, "trace_retention": 86400.0, "trace_max_size": None,
            "sampling_strategies": None}
    return {**base, **over}


@pytest.fixture
def taken():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    yield s.getsockname()[1]
    s.close()


def _close(sockets):
    for s in sockets:
        s.close()


@pytest.mark.parametrize("name", ["otlp_http", "otlp_grpc", "zipkin"])
def test_a_taken_default_port_is_a_warning_and_the_receiver_stays_off(taken, name, capsys):
    hub, _listeners, sockets = open_receivers(_ctx(set()), _opts(**{name: f"127.0.0.1:{taken}"}),
                                             None, hub_port=1)
    try:
        flag = "--" + name.replace("_", "-")
        assert f"{flag} 127.0.0.1:{taken} is taken" in capsys.readouterr().err
        assert not any(e.startswith(flag.removeprefix("--") + " ") for e in hub.endpoints)
        assert len(hub.endpoints) == 2  # the other two opened
    finally:
        _close(sockets)


@pytest.mark.parametrize("name", ["otlp_http", "otlp_grpc", "zipkin"])
def test_a_taken_port_asked_for_is_exit_3_naming_the_option(taken, name):
    flag = "--" + name.replace("_", "-")
    with pytest.raises(TargetError, match=flag) as err:
        open_receivers(_ctx({name}), _opts(**{name: f"127.0.0.1:{taken}"}), None, hub_port=1)
    assert err.value.exit_code == 3


def test_receivers_off_loopback_need_a_token():
    with pytest.raises(UsageError, match="--zipkin"):
        open_receivers(_ctx({"zipkin"}), _opts(zipkin="0.0.0.0:0"), None, hub_port=1)
    hub, _, sockets = open_receivers(_ctx({"zipkin"}), _opts(zipkin="0.0.0.0:0"), "tok",
                                     hub_port=1)
    _close(sockets)
    assert any(e.startswith("zipkin 0.0.0.0:") for e in hub.endpoints)


def test_a_bad_address_is_a_usage_error():
    with pytest.raises(UsageError, match="--otlp-grpc"):
        open_receivers(_ctx({"otlp_grpc"}), _opts(otlp_grpc="nowhere"), None, hub_port=1)


def test_the_test_helper_leaves_the_default_ports_alone():
    assert _receiver_args(()) == ["--no-otlp-http", "--no-otlp-grpc", "--no-zipkin",
                                  "--no-fluent-forward", "--no-syslog"]
    assert _receiver_args(("--otlp-http", "127.0.0.1:5", "--syslog=127.0.0.1:6")) == [
        "--no-otlp-grpc", "--no-zipkin", "--no-fluent-forward"]

"""The ports of their own: Fluentd's forward protocol (the real ``fluent-logger`` client, and
Forward, PackedForward and CompressedPackedForward frames with ``chunk`` acks and the shared-key
handshake, built as the spec draws them) and syslog (util-linux ``logger`` over UDP and TCP, both
framings, RFC 5424 and 3164). Bad input closes that connection only; what was taken stays."""

from __future__ import annotations

import contextlib
import gzip
import socket
import struct
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import require_tool, wait_for
from tests.unit.logs._logrows import count, wait_stored
from tests.unit.trace._tracehub import Hub, running_hub

from perflab.logs import LogPorts, LogsHub
from perflab.logs._forward import ForwardError, decode_message, ping, unpacker
from perflab.logs._syslog import Framer, parse
from perflab.serving import datagram_socket, listening_socket

TRACE_HEX = "4bf92f3577b34da6a3ce929d0e0e4736"


def _ports(**kwargs: Any) -> LogPorts:
    tcp = listening_socket("127.0.0.1", 0)
    return LogPorts(forward=listening_socket("127.0.0.1", 0), syslog_tcp=tcp,
                    syslog_udp=datagram_socket("127.0.0.1", tcp.getsockname()[1]), **kwargs)


@contextlib.contextmanager
def _hub(tmp_path, **kwargs: Any) -> Iterator[tuple[Hub, int, int]]:
    """A running hub with forward and syslog ports: (hub, forward port, syslog port)."""
    ports = _ports(**kwargs)
    assert ports.forward is not None
    assert ports.syslog_tcp is not None
    fwd, syslog = ports.forward.getsockname()[1], ports.syslog_tcp.getsockname()[1]
    with running_hub(tmp_path / "s.db", logs=LogsHub(ports=ports)) as hub:
        yield hub, fwd, syslog


def _event_time(ns: int) -> msgpack.ExtType:
    return msgpack.ExtType(0, struct.pack(">II", ns // 10**9, ns % 10**9))


def _read_one(sock: socket.socket) -> Any:
    reader = msgpack.Unpacker(raw=False)
    sock.settimeout(20)
    while True:
        try:
            data = sock.recv(4096)
        except ConnectionResetError:  # closed with our data unread
            return None
        if not data:
            return None
        reader.feed(data)
        for obj in reader:
            return obj


# -- forward protocol --------------------------------------------------------------------------

def test_fluent_logger_sends_message_mode_events(tmp_path):
    from fluent import sender  # noqa: PLC0415  # the real client

    with _hub(tmp_path) as (hub, port, _):
        client = sender.FluentSender("app", host="127.0.0.1", port=port,
                                     nanosecond_precision=True)
        try:
            assert client.emit("web", {"message": "payment failed", "level": "error",
                                       "trace_id": TRACE_HEX, "order": {"id": 42}})
            assert client.emit_with_time("web", 1_700_000_000, {"note": "no message key"})
        finally:
            client.close()
        rows = wait_stored(hub.store_path, 2)
    first, second = rows[1], rows[0]  # oldest first: the one from 2023 is second sent
    assert (first["labels"], first["line"], first["level"], first["trace_id"]) == (
        {"tag": "app.web"}, "payment failed", "error", TRACE_HEX)
    assert first["fields"]["order_id"] == "42"
    assert (second["line"], second["ts_ns"]) == ('{"note":"no message key"}',
                                                 1_700_000_000 * 10**9)


def test_forward_packed_and_compressed_modes_are_acked_once_queued(tmp_path):
    t = 1_700_000_000_123_456_789
    entries = [[_event_time(t), {"log": "packed one"}], [_event_time(t + 1), {"log": "packed two"}]]
    packed = b"".join(msgpack.packb(e) for e in entries)
    frames: list[list[Any]] = [
        ["fwd", [[_event_time(t), {"message": "forward one"}], [t // 10**9, {"message": "two"}]],
         {"chunk": "c1"}],
        ["pk", packed, {"chunk": "c2", "size": 2}],
        ["gz", gzip.compress(packed), {"chunk": "c3", "compressed": "gzip"}],
        ["msg", _event_time(t), {"message": "message mode"}, {"chunk": "c4"}],
    ]
    with _hub(tmp_path) as (hub, port, _), socket.create_connection(("127.0.0.1", port)) as s:
        for frame in frames:
            s.sendall(msgpack.packb(frame, use_bin_type=True))
            assert _read_one(s) == {"ack": frame[-1]["chunk"]}
        rows = wait_stored(hub.store_path, 7)
    assert sorted((r["labels"]["tag"], r["line"]) for r in rows) == [
        ("fwd", "forward one"), ("fwd", "two"), ("gz", "packed one"), ("gz", "packed two"),
        ("msg", "message mode"), ("pk", "packed one"), ("pk", "packed two")]
    assert {r["ts_ns"] for r in rows if r["labels"]["tag"] == "pk"} == {t, t + 1}


def test_packed_forward_sent_as_a_msgpack_str_comes_back_byte_for_byte():
    """Fluentd sends PackedForward's entries with ``write_raw_header``: a str, not a bin."""
    raw = msgpack.packb([1_700_000_000, {"message": "caf\xe9 \xff"}], use_bin_type=False)
    # [tag, str32 of the entries' bytes], by hand: msgpack-python writes text as UTF-8
    frame = b"\x92" + msgpack.packb("t") + b"\xdb" + struct.pack(">I", len(raw)) + raw
    reader = unpacker()
    reader.feed(frame)
    batch = decode_message(next(reader), 0)
    assert [e.line for e in batch.entries] == ["caf\xe9 \xff"]


def test_shared_key_handshake_accepts_the_key_and_refuses_a_wrong_one(tmp_path):
    with _hub(tmp_path, shared_key=b"s3cret") as (hub, port, _):
        with socket.create_connection(("127.0.0.1", port)) as s:
            helo = _read_one(s)
            assert helo[0] == "HELO"
            s.sendall(ping(hostname="client", nonce=helo[1]["nonce"], key=b"s3cret"))
            pong = _read_one(s)
            assert pong[:3] == ["PONG", True, ""]
            s.sendall(msgpack.packb(["t", 1, {"message": "authenticated"}, {"chunk": "a"}]))
            assert _read_one(s) == {"ack": "a"}
        with socket.create_connection(("127.0.0.1", port)) as s:
            helo = _read_one(s)
            s.sendall(ping(hostname="client", nonce=helo[1]["nonce"], key=b"wrong"))
            assert _read_one(s)[:3] == ["PONG", False, "shared_key mismatch"]
            s.sendall(msgpack.packb(["t", 1, {"message": "not taken"}]))
            assert _read_one(s) is None  # closed
        with socket.create_connection(("127.0.0.1", port)) as s:  # no handshake at all
            _read_one(s)
            s.sendall(msgpack.packb(["t", 1, {"message": "not taken either"}]))
            assert _read_one(s) is None
        assert [r["line"] for r in wait_stored(hub.store_path, 1)] == ["authenticated"]
        assert hub.logs is not None
        assert hub.logs.ports.stats.bad_connections == 2


@pytest.mark.parametrize("bad", [
    b"\xc1",                                          # never used in msgpack
    msgpack.packb({"not": "an array"}),
    msgpack.packb(["t", "x", {"a": 1}, {}, "extra"]),
    msgpack.packb(["t", [[1, "not a map"]]]),
    msgpack.packb(["t", b"\x93\x01", {"compressed": "gzip"}]),
])
def test_bad_input_closes_that_connection_and_the_port_keeps_serving(tmp_path, bad):
    with _hub(tmp_path) as (hub, port, _):
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(msgpack.packb(["t", 1, {"message": "before"}, {"chunk": "1"}]))
            assert _read_one(s) == {"ack": "1"}
            s.sendall(bad)
            assert _read_one(s) is None
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(msgpack.packb(["t", 2, {"message": "after"}, {"chunk": "2"}]))
            assert _read_one(s) == {"ack": "2"}
        assert [r["line"] for r in wait_stored(hub.store_path, 2)] == ["before", "after"]


def test_a_record_over_1_mib_is_refused_and_invalid_utf8_kept(tmp_path):
    big = {"message": "x" * (1024 * 1024 + 1)}
    events = [[1, big], [2, {"message": b"caf\xe9".decode("latin-1")}], [3, {"log": "ok"}]]
    with _hub(tmp_path) as (hub, port, _), socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(msgpack.packb(["t", events, {"chunk": "c"}]))
        assert _read_one(s) == {"ack": "c"}
        # a str holding invalid UTF-8 (msgpack-python would not write one): by hand
        s.sendall(b"\x94\xa1t\x04\x81\xa7message\xa4caf\xe9\x81\xa5chunk\xa1d")
        assert _read_one(s) == {"ack": "d"}
        rows = wait_stored(hub.store_path, 3)
        assert hub.logs is not None
        assert hub.logs.ports.stats.rejected == 1
    assert [r["line"] for r in rows] == ["café", "ok", "caf\ufffd"]


def test_a_full_queue_holds_the_ack_back_until_the_lines_are_taken():
    """Back-pressure: nothing is acknowledged before the queue has it, nothing is lost."""
    taken: list[list[Any]] = []
    refusals = [5]

    def submit(entries: list[Any]) -> bool:
        if refusals[0]:
            refusals[0] -= 1
            return False
        taken.append(entries)
        return True

    ports = LogPorts(forward=listening_socket("127.0.0.1", 0), submit=submit)
    assert ports.forward is not None
    port = ports.forward.getsockname()[1]
    ports.start()
    try:
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(msgpack.packb(["t", [[1, {"message": "a"}], [2, {"message": "b"}]],
                                     {"chunk": "x"}]))
            assert _read_one(s) == {"ack": "x"}
        assert refusals == [0]
        assert [[e.line for e in batch] for batch in taken] == [["a", "b"]]
    finally:
        ports.stop()


def test_connections_over_the_limit_are_closed_and_the_others_served(monkeypatch):
    monkeypatch.setattr("perflab.logs._ports.MAX_CONNECTIONS", 1)
    taken: list[str] = []

    def submit(entries: list[Any]) -> bool:
        taken.extend(e.line for e in entries)
        return True

    ports = LogPorts(forward=listening_socket("127.0.0.1", 0), submit=submit)
    assert ports.forward is not None
    address = ports.forward.getsockname()
    ports.start()
    try:
        with socket.create_connection(address) as first:
            first.sendall(msgpack.packb(["t", 1, {"message": "one"}, {"chunk": "1"}]))
            assert _read_one(first) == {"ack": "1"}
            with socket.create_connection(address) as second:
                second.sendall(msgpack.packb(["t", 1, {"message": "two"}, {"chunk": "2"}]))
                assert _read_one(second) is None  # over the limit: closed
        wait_for(lambda: ports._connections.active == 0, what="the first connection's end")
        with socket.create_connection(address) as third:
            third.sendall(msgpack.packb(["t", 1, {"message": "three"}, {"chunk": "3"}]))
            assert _read_one(third) == {"ack": "3"}
    finally:
        ports.stop()
    assert taken == ["one", "three"]


@settings(max_examples=300, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
                    | st.binary(max_size=16),
                    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c,
                                                                        max_size=3),
                    max_leaves=12))
def test_fuzz_decode_message_raises_only_forward_error(msg):
    with contextlib.suppress(ForwardError):
        batch = decode_message(msg, 0)
        assert all(0 <= e.ts_ns < 2**63 for e in batch.entries)


# -- syslog ----------------------------------------------------------------------------------

def _logger(port: int, *args: str) -> None:
    tool = require_tool("logger")
    subprocess.run([tool, "-n", "127.0.0.1", "-P", str(port), *args], check=True, timeout=30)


def test_logger_sends_rfc5424_and_rfc3164_over_udp_and_tcp(tmp_path):
    with _hub(tmp_path) as (hub, _, port):
        _logger(port, "--rfc5424", "-d", "-t", "billing", "-p", "local3.err", "udp 5424")
        wait_for(lambda: count(hub.store_path) == 1, what="the UDP line")  # UDP: one at a time
        _logger(port, "--rfc3164", "-T", "-t", "cron", "-p", "cron.warning", "tcp 3164")
        _logger(port, "--rfc5424", "-T", "--octet-count", "-t", "api", "--sd-id", "req@1",
                "--sd-param", 'path="/pay"', "--msgid", "M1", "tcp counted")
        rows = {r["line"]: r for r in wait_stored(hub.store_path, 3)}
    udp, bsd, counted = rows["udp 5424"], rows["tcp 3164"], rows["tcp counted"]
    host = socket.gethostname()
    assert (udp["labels"], udp["level"]) == (
        {"job": "syslog", "facility": "local3", "app": "billing", "host": host}, "error")
    assert (bsd["labels"]["app"], bsd["labels"]["facility"], bsd["level"]) == ("cron", "cron",
                                                                              "warn")
    assert abs(bsd["ts_ns"] - time.time_ns()) < 3600 * 10**9  # local time, this year
    assert (counted["fields"]["req_1_path"], counted["fields"]["msgid"], counted["level"]) == (
        "/pay", "M1", "info")


def test_syslog_oversize_frames_are_skipped_and_the_connection_goes_on(tmp_path):
    big = b"<13>1 - - - - - - " + b"x" * (1024 * 1024 + 8192)
    with _hub(tmp_path) as (hub, _, port), socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"<13>before\n" + str(len(big)).encode() + b" " + big + b"<13>after\n"
                  + b"<14>no newline at the end")
        s.shutdown(socket.SHUT_WR)
        rows = wait_stored(hub.store_path, 3)
    assert [r["line"] for r in rows] == ["before", "after", "no newline at the end"]


@pytest.mark.parametrize(("raw", "labels", "line", "meta"), [
    ((b'<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 '
      b'[exampleSDID@32473 iut="3" eventSource="Application"] \xef\xbb\xbfAn application event'),
     {"job": "syslog", "facility": "local4", "host": "mymachine.example.com",
      "app": "evntslog"}, "An application event",
     {"level": "notice", "msgid": "ID47", "exampleSDID_32473_iut": "3",
      "exampleSDID_32473_eventSource": "Application"}),
    (b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
     {"job": "syslog", "facility": "auth", "host": "mymachine", "app": "su"},
     "'su root' failed for lonvick on /dev/pts/8", {"level": "crit"}),
    (b"<13>Feb  5 17:32:18 app[123]: no host", {"job": "syslog", "facility": "user",
                                                "app": "app"}, "no host",
     {"level": "notice", "pid": "123"}),
    (b"no pri at all \xff", {"job": "syslog"}, "no pri at all \ufffd", {}),
    (b"<999>too big a pri", {"job": "syslog"}, "<999>too big a pri", {}),
])
def test_parse_rfc5424_and_rfc3164_examples(raw, labels, line, meta):
    import json  # noqa: PLC0415

    entry = parse(raw, 7)
    assert (json.loads(entry.labels), entry.line, dict(entry.metadata)) == (labels, line, meta)


def test_the_5424_example_keeps_its_time():
    assert parse(b"<165>1 2003-10-11T22:14:15.003Z h a - - - m", 0).ts_ns == \
        1_065_910_455_003_000_000


def test_framer_reads_both_framings_split_anywhere():
    stream = b"5 <1>ab<2>line one\n11 <3>counted\n\n<4>last\n"
    for cut in range(len(stream)):
        f = Framer()
        assert f.feed(stream[:cut]) + f.feed(stream[cut:]) == [
            b"<1>ab", b"<2>line one", b"<3>counted\n", b"<4>last"]


def test_framer_skips_oversize_frames():
    f = Framer(max_frame=10)
    got = f.feed(b"20 " + b"y" * 20 + b"<1>ok\n" + b"z" * 30 + b"\n<2>fine\n")
    assert (got, f.oversize) == ([b"<1>ok", b"<2>fine"], 2)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.integers(1, 50))
def test_fuzz_the_syslog_parser_and_framer_never_raise(data, max_frame):
    parse(data, 0)
    f = Framer(max_frame=max_frame)
    for frame in f.feed(data):
        parse(frame, 0)
        assert len(frame) <= max_frame
    f.rest()



def test_rsyslog_forwards_to_the_syslog_port(tmp_path):
    """rsyslog's omfwd, TCP with octet counting and its RFC 5424 template, as a machine's
    rsyslog would forward; ``logger -u`` writes into rsyslog's socket."""
    rsyslogd, logger = require_tool("rsyslogd"), require_tool("logger")
    sock = tmp_path / "log.sock"
    with _hub(tmp_path) as (hub, _, port):
        conf = tmp_path / "rsyslog.conf"
        conf.write_text(
            f'global(workDirectory="{tmp_path}")\n'
            'module(load="imuxsock" SysSock.Use="off")\n'
            f'input(type="imuxsock" Socket="{sock}")\n'
            f'*.* action(type="omfwd" target="127.0.0.1" port="{port}" protocol="tcp" '
            'Template="RSYSLOG_SyslogProtocol23Format" TCP_Framing="octet-counted")\n')
        proc = subprocess.Popen([rsyslogd, "-n", "-f", str(conf), "-i",
                                 str(tmp_path / "rsyslogd.pid")], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, process_group=0)
        try:
            wait_for(sock.exists, timeout_s=30, what="rsyslogd's socket")
            subprocess.run([logger, "-u", str(sock), "-t", "shop", "-p", "daemon.err",
                            "forwarded by rsyslog"], check=True, timeout=30)
            rows = wait_stored(hub.store_path, 1)
        finally:
            proc.terminate()
            proc.wait(30)
    # rsyslog's msg property keeps the space after "shop:"; the line is kept as sent
    forwarded = next(r for r in rows if r["line"] == " forwarded by rsyslog")
    assert (forwarded["labels"]["app"], forwarded["labels"]["facility"], forwarded["level"]) == (
        "shop", "daemon", "error")

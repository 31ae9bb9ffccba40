"""capture summary on files built byte by byte: the counts, RTTs and HTTP latencies are known."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from tests._schemas import validate
from tests.unit.netcap._pcapgen import (
    ACK,
    FIN,
    PSH,
    RST,
    Conversation,
    ethernet,
    pcap,
    pcapng,
    sll,
    sll2,
)

from perflab.cli import main
from perflab.errors import InvalidFile
from perflab.netcap import summarize

if TYPE_CHECKING:
    from pathlib import Path

REQUEST = b"GET /items?id=7 HTTP/1.1\r\nHost: x\r\n\r\n"
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"


def _http_exchange(conv: Conversation) -> None:
    conv.handshake(rtt_ms=2.0)
    conv.at(1).send(from_client=True, flags=ACK | PSH, payload=REQUEST)
    conv.at(1).send(from_client=False)                       # ACK: 1 ms RTT
    conv.at(4).send(from_client=False, flags=ACK | PSH, payload=RESPONSE)  # 5 ms after request
    conv.at(1).send(from_client=True)                        # ACK: 1 ms RTT


def _lossy(conv: Conversation) -> None:
    """Four segments, the second lost: two duplicate ACKs, a fast retransmission; then an RTO
    retransmission, a zero window and a reset."""
    conv.handshake(rtt_ms=1.0)
    start = conv.sseq
    for _ in range(4):
        conv.at(0.1).send(from_client=False, payload=b"x" * 100)
    acks = [start + 100, start + 100, start + 100]
    for ack in acks:
        conv.at(0.2)
        conv.sseq, saved = ack, conv.sseq
        conv.send(from_client=True)
        conv.sseq = saved
    conv.at(1).send(from_client=False, payload=b"x" * 100, seq=start + 100)  # fast retransmit
    conv.at(0.5).send(from_client=True)                                        # acks all 400
    conv.at(1).send(from_client=False, payload=b"y" * 50)
    conv.at(300).send(from_client=False, payload=b"y" * 50, seq=conv.sseq - 50)  # RTO
    conv.at(0.5).send(from_client=True, window=0)                               # zero window
    conv.at(1).send(from_client=True, flags=RST | ACK)


def _write(tmp_path: Path, data: bytes, name: str = "f.pcap") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_http_latency_rtts_and_handshake(tmp_path: Path) -> None:
    conv = Conversation()
    _http_exchange(conv)
    doc = summarize(_write(tmp_path, pcap(conv.frames())))
    (flow,) = doc["flows"]
    assert flow["client"] == "10.0.0.1:40000"
    assert flow["server"] == "10.0.0.2:80"
    assert flow["handshake_rtt_ms"] == pytest.approx(2.0)
    assert flow["rtt_ms"]["count"] == 4  # SYN, SYN/ACK, request, response each acked once
    assert flow["rtt_ms"]["p50"] == pytest.approx(1.0)
    assert flow["bytes_sent"] == len(REQUEST)
    assert flow["bytes_received"] == len(RESPONSE)
    assert flow["http_requests"] == 1
    (route,) = doc["http"]
    assert (route["method"], route["path"], route["count"]) == ("GET", "/items", 1)
    assert route["latency_ms"]["p50"] == pytest.approx(5.0)
    assert doc["totals"]["retransmissions"] == doc["totals"]["dup_acks"] == 0


def test_retransmissions_dup_acks_zero_window_reset(tmp_path: Path) -> None:
    conv = Conversation()
    _lossy(conv)
    doc = summarize(_write(tmp_path, pcap(conv.frames())))
    totals = doc["totals"]
    assert totals["retransmissions"] == 2  # the fast one and the RTO one
    assert totals["dup_acks"] == 2
    assert totals["zero_windows"] == 1
    assert totals["resets"] == 1
    assert doc["flows"][0]["bytes_received"] == 600


def test_keepalive_and_out_of_order_are_not_retransmissions(tmp_path: Path) -> None:
    conv = Conversation()
    conv.handshake(rtt_ms=10.0)
    start = conv.sseq
    conv.at(1).send(from_client=False, payload=b"a" * 100, seq=start + 100)  # ahead: a hole
    conv.at(1).send(from_client=False, payload=b"b" * 100, seq=start)         # fills it: OOO
    conv.sseq = start + 200
    conv.at(1).send(from_client=True)
    conv.at(5000).send(from_client=True, seq=conv.cseq - 1, payload=b"\0")    # keep-alive
    doc = summarize(_write(tmp_path, pcap(conv.frames())))
    assert doc["totals"]["retransmissions"] == 0


def test_a_segment_stamped_before_the_highest_is_a_retransmission_as_wireshark_says(
        tmp_path: Path) -> None:
    """A capture's CPUs can stamp a burst out of order: a segment below the highest sequence
    number whose time is 2 µs before the highest's. Wireshark's time difference is unsigned, so
    it is not "within the out-of-order threshold" and the segment counts as a retransmission."""
    conv = Conversation()
    conv.handshake(rtt_ms=10.0)
    start = conv.sseq
    conv.at(1).send(from_client=False, payload=b"a" * 100, seq=start + 100)  # ahead: a hole
    conv.at(-0.002).send(from_client=False, payload=b"b" * 100, seq=start)    # stamped earlier
    conv.sseq = start + 200
    conv.at(1).send(from_client=True)
    doc = summarize(_write(tmp_path, pcap(conv.frames())))
    assert doc["totals"]["retransmissions"] == 1


@pytest.mark.parametrize(("wrap", "link"), [(ethernet, 1), (sll, 113), (sll2, 276)])
@pytest.mark.parametrize("container", ["pcap-us", "pcap-ns-be", "pcapng"])
def test_link_types_and_containers_agree(tmp_path: Path, wrap: object, link: int,
                                         container: str) -> None:
    conv = Conversation()
    _lossy(conv)
    frames = conv.frames(wrap)
    data = (pcapng(frames, link) if container == "pcapng" else
            pcap(frames, link, nanos=True, big_endian=True) if container == "pcap-ns-be" else
            pcap(frames, link))
    doc = summarize(_write(tmp_path, data))
    assert doc["link_types"] == [link]
    assert (doc["totals"]["retransmissions"], doc["totals"]["dup_acks"]) == (2, 2)
    assert doc["flows"][0]["handshake_rtt_ms"] == pytest.approx(1.0)


def test_ipv6(tmp_path: Path) -> None:
    conv = Conversation(client=("fd00::1", 40000), server=("fd00::2", 443))
    _http_exchange(conv)
    doc = summarize(_write(tmp_path, pcap(conv.frames())))
    assert doc["flows"][0]["client"] == "[fd00::1]:40000"
    assert doc["http"][0]["count"] == 1


def test_http_pipelined_chunked_and_reordered(tmp_path: Path) -> None:
    conv = Conversation()
    conv.handshake()
    two = b"POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.1\r\n\r\n"
    conv.at(1).send(from_client=True, flags=ACK | PSH, payload=two)
    chunked = (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n4\r\nwxyz\r\n0\r\n\r\n")
    second = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    start = conv.sseq
    conv.at(2).send(from_client=False, payload=chunked[:30], seq=start)
    conv.at(1).send(from_client=False, payload=second, seq=start + len(chunked))  # early
    conv.at(1).send(from_client=False, payload=chunked[30:], seq=start + 30)
    conv.sseq = start + len(chunked) + len(second)
    conv.at(1).send(from_client=True, flags=ACK | FIN)
    doc = summarize(_write(tmp_path, pcap(conv.frames())))
    routes = {(r["method"], r["path"]): r for r in doc["http"]}
    assert set(routes) == {("POST", "/a"), ("GET", "/b")}
    assert routes["POST", "/a"]["latency_ms"]["p50"] == pytest.approx(2.0)
    # /b's response came at +3 ms, ahead of the rest of /a's: held until that arrived at +4
    assert routes["GET", "/b"]["latency_ms"]["p50"] == pytest.approx(3.0)


def test_truncated_file_keeps_what_was_read(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    conv = Conversation()
    _http_exchange(conv)
    whole = pcap(conv.frames())
    path = _write(tmp_path, whole[:-10])
    doc = summarize(path)
    assert doc["truncated"]
    assert doc["frames"] == len(conv.packets) - 1
    assert doc["http"][0]["count"] == 1  # the last frame was only the client's ACK
    assert main(["capture", "summary", path, "--json"]) == 0
    out, err = capsys.readouterr()
    validate(json.loads(out), "capture-summary")
    whole_frames = len(conv.packets) - 1
    assert err.startswith(
        f"perflab: warning: the file ends inside a packet after {whole_frames} whole frames")


def test_other_link_type_is_one_clear_error(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    conv = Conversation()
    _http_exchange(conv)
    path = _write(tmp_path, pcap(conv.frames(), link_type=105))  # 802.11
    with pytest.raises(InvalidFile, match="link type 105 is not one perflab decodes"):
        summarize(path)
    assert main(["capture", "summary", path]) == 2
    err = capsys.readouterr().err
    assert err.startswith("perflab: error: ")
    assert "\n  hint: capture on" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("data", [b"", b"abc", b"GIF89a" + b"\0" * 40])
def test_not_a_capture(tmp_path: Path, data: bytes, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, data)
    assert main(["capture", "summary", path]) == 2
    assert "not a" in capsys.readouterr().err


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["capture", "summary", str(tmp_path / "none.pcap")]) == 2
    assert "cannot read: No such file or directory" in capsys.readouterr().err


def test_text_view(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conv = Conversation()
    _http_exchange(conv)
    path = _write(tmp_path, pcapng(conv.frames()))
    assert main(["capture", "summary", path]) == 0
    out = capsys.readouterr().out
    assert "1 TCP flows: 0 retransmissions" in out
    assert "10.0.0.1:40000" in out
    assert "GET     /items" in out


def test_record_puts_per_second_series_on_a_run(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    from perflab.store import Store  # noqa: PLC0415

    conv = Conversation()
    conv.now_ns = 1_700_000_000_000_000_000  # a whole second: the lossy part's second is known
    _lossy(conv)
    path = _write(tmp_path, pcap(conv.frames()))
    db = str(tmp_path / "s.db")
    assert main(["capture", "summary", path, "--json", "--record", "--name", "lossy",
                 "--store", db]) == 0
    doc = validate(json.loads(capsys.readouterr().out), "capture-summary")
    with Store.open(db, create=False) as store:
        run = store.run(doc["run"])
        assert (run.kind, run.name, run.status) == ("capture", "lossy", "ok")
        values = {}
        for series in store.series(run.id):
            values[series.name] = [v for _, v in store.samples(series.id)]
    # the fast retransmission in the first second, the RTO one 300 ms later: the same second
    assert values["tcp_retransmissions"] == [2.0]
    assert values["tcp_dup_acks"] == [2.0]
    assert values["tcp_rtt_p50"] == [pytest.approx(0.5)]
    assert len(values["tcp_rtt_p99"]) == 1

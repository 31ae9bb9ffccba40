"""Remote-write and InfluxDB receivers: decoded at the edge, bounded, written whole or refused."""

from __future__ import annotations

import time

import cramjam
import pytest

from perflab.metrics._influx import InfluxError, parse_lines
from perflab.metrics._remote_write import (
    WriteRequest,
    decode_write_request,
    encode_write_request,
)
from perflab.serving import BadEncoding, PayloadTooLarge


def _wait_for(client, query: str, want: int, timeout_s: float = 20.0) -> list:
    deadline = time.monotonic() + timeout_s
    while True:
        doc = client.get("/api/v1/query", params={"query": query}).json()
        result = doc["data"]["result"]
        if len(result) >= want or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


def test_write_request_round_trips_through_snappy_protobuf():
    body = encode_write_request([([("__name__", "a"), ("x", "1")], [(1000, 1.5), (2000, 2.5)])])
    series, meta = decode_write_request(body, limit=1 << 20)
    assert [(s.labels, s.samples) for s in series] == [
        ((("__name__", "a"), ("x", "1")), [(1000, 1.5), (2000, 2.5)])]
    assert meta == []


def test_the_fast_decoder_reads_what_protobufs_own_reads():
    from perflab.metrics._remote_write import (  # noqa: PLC0415
        decode_labels,
        decode_series_fast,
        snappy_decompress_bounded,
    )

    body = encode_write_request([([("__name__", "a"), ("é", "ü")], [(-5, 1.5), (2**62, -0.0)]),
                                 ([("__name__", "b")], [])])
    fast, _ = decode_series_fast(snappy_decompress_bounded(body, 1 << 20))
    slow, _ = decode_write_request(body, limit=1 << 20)
    assert [(decode_labels(k), s) for k, s in fast] == [(s.labels, s.samples) for s in slow]


def test_a_snappy_bomb_is_refused_before_decompressing():
    raw = WriteRequest().SerializeToString() + b"\x00" * (2 << 20)
    body = bytes(cramjam.snappy.compress_raw(raw))
    with pytest.raises(PayloadTooLarge):
        decode_write_request(body, limit=1 << 20)


@pytest.mark.parametrize("body", [b"", b"\xff\xff\xff", b"not snappy at all",
                                  bytes(cramjam.snappy.compress_raw(b"\x0a\x05garbage"))])
def test_garbage_is_bad_encoding(body):
    with pytest.raises((BadEncoding, PayloadTooLarge)):
        decode_write_request(body, limit=1 << 20)


def test_remote_write_lands_in_the_store_and_answers_204(hub):
    now_ms = time.time_ns() // 1_000_000
    body = encode_write_request([([("__name__", "pushed_total"), ("job", "agent")],
                                  [(now_ms - 1000, 1.0), (now_ms, 2.0)])])
    r = hub.client.post("/api/v1/write", content=body, headers={
        "Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
        "X-Prometheus-Remote-Write-Version": "0.1.0"})
    assert r.status_code == 204
    [got] = _wait_for(hub.client, "pushed_total", 1)
    assert got["metric"]["job"] == "agent"
    assert got["value"][1] == "2"


def test_remote_write_refuses_bad_series_with_400(hub):
    no_name = encode_write_request([([("job", "x")], [(1, 1.0)])])
    r = hub.client.post("/api/v1/write", content=no_name,
                        headers={"Content-Encoding": "snappy"})
    assert r.status_code == 400
    assert "metric name" in r.text
    dup = encode_write_request([([("__name__", "a"), ("x", "1"), ("x", "2")], [(1, 1.0)])])
    assert hub.client.post("/api/v1/write", content=dup,
                           headers={"Content-Encoding": "snappy"}).status_code == 400
    assert hub.client.post("/api/v1/write", content=b"\x00garbage",
                           headers={"Content-Encoding": "snappy"}).status_code == 400
    assert hub.client.post("/api/v1/write", content=b"x",
                           headers={"Content-Encoding": "gzip"}).status_code == 415


def test_samples_far_older_than_the_run_are_out_of_bounds(hub):
    body = encode_write_request([([("__name__", "ancient")], [(1000, 1.0)])])
    r = hub.client.post("/api/v1/write", content=body, headers={"Content-Encoding": "snappy"})
    assert r.status_code == 400
    assert "out of bounds" in r.text


def test_a_full_ingest_queue_is_429_with_retry_after(hub):
    queue = hub.client.app.state.ingest
    queue.max_items = 1  # nothing more fits: the receiver must say so, not drop
    body = encode_write_request([([("__name__", "a")], [(time.time_ns() // 10**6, 1.0)] * 1),
                                 ([("__name__", "b")], [(time.time_ns() // 10**6, 1.0)])])
    r = hub.client.post("/api/v1/write", content=body, headers={"Content-Encoding": "snappy"})
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "1"


def test_influx_line_protocol_fields_become_series(hub):
    now = time.time_ns()
    body = (f"cpu,host=web1,region=eu usage_idle=92.5,usage_user=7i {now}\n"
            f'weather,city=Paris value=12.5,note="sunny",ok=true {now}\n').encode()
    r = hub.client.post("/api/v2/write?bucket=b1&precision=ns", content=body)
    assert r.status_code == 204
    got = _wait_for(hub.client, '{__name__=~"cpu_.*|weather.*"}', 4)
    names = {g["metric"]["__name__"]: g for g in got}
    assert set(names) == {"cpu_usage_idle", "cpu_usage_user", "weather", "weather_ok"}
    assert names["cpu_usage_idle"]["metric"]["host"] == "web1"
    assert names["cpu_usage_idle"]["metric"]["bucket"] == "b1"
    assert names["weather"]["value"][1] == "12.5"


def test_influx_errors_name_the_line():
    with pytest.raises(InfluxError, match="line 2"):
        parse_lines(b"a x=1\nb,tag x=2\n")
    with pytest.raises(InfluxError, match="precision"):
        parse_lines(b"a x=1", precision="fortnights")
    assert parse_lines(b"m,a=b\\ c v=1i 5", precision="s") == [("m_v", {"a": "b c"}, 1.0,
                                                                  5_000_000_000)]

"""Remote-write and InfluxDB receivers: decoded at the edge, bounded, written whole or refused."""

from __future__ import annotations

import struct
import time

import cramjam
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

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
    )
    from perflab.serving import snappy_decompress_bounded  # noqa: PLC0415

    body = encode_write_request([([("__name__", "a"), ("é", "ü")], [(-5, 1.5), (2**62, -0.0)]),
                                 ([("__name__", "b")], [])])
    fast, _ = decode_series_fast(snappy_decompress_bounded(body, 1 << 20))
    slow, _ = decode_write_request(body, limit=1 << 20)
    assert [(decode_labels(k), s) for k, s in _fast_series(fast)] == [
        (s.labels, s.samples) for s in slow]


def _fast_series(columns):
    """decode_series_fast's columns as (label fields, [(ms, value)]) per series."""
    out, at = [], 0
    for key, n in zip(columns.labels, columns.counts.tolist(), strict=True):
        out.append((key, list(zip(columns.ts_ms[at:at + n].tolist(),
                                  columns.values[at:at + n].tolist(), strict=True))))
        at += n
    return out


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


def test_a_time_a_store_cannot_hold_is_out_of_bounds_and_the_writer_goes_on(hub):
    """2**62 ms is past int64 nanoseconds: refused at the edge (it once reached the writer
    thread, whose insert failed and was retried for ever, holding up every later push)."""
    now_ms = time.time_ns() // 1_000_000
    body = encode_write_request([([("__name__", "fine_total")], [(now_ms, 1.0)]),
                                 ([("__name__", "far_future")], [(2**62, 1.0)])])
    r = hub.client.post("/api/v1/write", content=body, headers={"Content-Encoding": "snappy"})
    assert r.status_code == 400
    assert "far_future has a time a store cannot hold" in r.text
    body = encode_write_request([([("__name__", "later_total")], [(now_ms, 3.0)])])
    assert hub.client.post("/api/v1/write", content=body,
                           headers={"Content-Encoding": "snappy"}).status_code == 204
    [got] = _wait_for(hub.client, "later_total", 1)
    assert got["value"][1] == "3"
    assert _wait_for(hub.client, "far_future", 0, timeout_s=0) == []


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


def _raw_write_request(series):
    """A decompressed WriteRequest whose samples are the given bytes, as they are (any order
    of fields, unknown fields, truncated ones: what another encoder might send)."""
    from perflab.metrics._remote_write import Label, LazyWriteRequest  # noqa: PLC0415

    req = LazyWriteRequest()
    for labels, samples in series:
        ts = req.timeseries.add()
        for name, value in labels:
            ts.labels.append(Label(name=name, value=value).SerializeToString())
        ts.samples.extend(samples)
    return req.SerializeToString()


def _varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def _answer(decode):
    try:
        return decode()
    except BadEncoding:
        return "BadEncoding"


SAMPLE_BYTES = st.one_of(
    # what encoders write, every value's bits and every int64 time
    st.builds(lambda v, t: b"\x09" + v + b"\x10" + _varint(t),
              st.binary(min_size=8, max_size=8), st.integers(-(2**63), 2**63 - 1)),
    st.builds(lambda t: b"\x10" + _varint(t), st.integers(-(2**63), 2**63 - 1)),
    # and what they might: reordered, repeated, unknown or broken fields, non-minimal varints
    st.lists(st.sampled_from([b"\x09", b"\x10", b"\x18", b"\x11", b"\x00" * 8, b"\x80",
                              b"\xff", b"\x01", b"\x7f", b"\x10\x80\x80\x00", b"\x0a\x00"]),
             max_size=6).map(b"".join),
    st.binary(max_size=20))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.lists(SAMPLE_BYTES, max_size=5), max_size=4))
@example([[b"\x10\x80"]])                                  # a varint cut short
@example([[b"\x10\x01\x10\x02"]])                          # a time given twice
@example([[b"\x09" + b"\x00" * 8 + b"\x10\xff\xff"], []])  # the same after a value
@example([[b"\x10\x01\x09" + b"\x00" * 7 + b"\xf8\x7f", b"", b"\x10" + b"\xff" * 9 + b"\x01"]])
def test_the_vectorised_sample_reader_answers_as_protobuf_does(series):
    """Every sample the fast decoder reads has protobuf's time and value, bit for bit (NaN
    payloads included), and a sample protobuf refuses is refused."""
    from perflab.metrics._remote_write import decode_series_fast  # noqa: PLC0415

    raw = _raw_write_request([([("__name__", "m"), ("i", str(i))], s)
                              for i, s in enumerate(series)])
    body = bytes(cramjam.snappy.compress_raw(raw))

    def fast():
        columns, _ = decode_series_fast(raw)
        return [(k, [(t, struct.pack("<d", v)) for t, v in s])
                for k, s in _fast_series(columns)]

    def slow():
        got, _ = decode_write_request(body, limit=1 << 20)
        return [(len(s.labels), [(t, struct.pack("<d", v)) for t, v in s.samples])
                for s in got]

    want = _answer(slow)
    have = _answer(fast)
    if want == "BadEncoding":
        assert have == "BadEncoding"
    else:
        assert [samples for _, samples in have] == [samples for _, samples in want]

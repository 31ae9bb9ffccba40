"""perflab bench net on loopback: iperf3's -J shape, and every byte sent counted as received."""

from __future__ import annotations

import _thread
import json
import threading

import pytest
from tests._schemas import validate
from tests.conftest import wait_for

from perflab.cli import main


@pytest.mark.parametrize("reverse", [False, True])
def test_streams_in_iperf3_shape(reverse: bool, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["bench", "net", "-t", "0.6s", "-P", "2", "-i", "0.2s", "--json"]
    assert main([*argv, "-R"] if reverse else argv) == 0
    doc = validate(json.loads(capsys.readouterr().out), "bench-net")
    test = doc["start"]["test_start"]
    assert (test["protocol"], test["num_streams"], test["reverse"]) == ("TCP", 2, int(reverse))
    sent, received = doc["end"]["sum_sent"], doc["end"]["sum_received"]
    # iperf3's "sender": the client (the side that reports) sends, so false with -R
    assert {s["sender"] for s in (sent, received, doc["intervals"][0]["sum"])} == {not reverse}
    assert [c["socket"] for c in doc["start"]["connected"]] == [1, 2]
    assert {c["remote_host"] for c in doc["start"]["connected"]} == {"127.0.0.1"}
    assert "netns" not in doc["start"]
    assert sent["bytes"] > 0
    assert sent["bytes"] == received["bytes"]  # the receivers read to the end of each stream
    assert sent["bits_per_second"] == pytest.approx(sent["bytes"] * 8 / sent["seconds"])
    assert doc["intervals"]
    for interval in doc["intervals"]:
        assert [s["socket"] for s in interval["streams"]] == [1, 2]
        assert interval["sum"]["bytes"] == sum(s["bytes"] for s in interval["streams"])
    counted = sum(i["sum"]["bytes"] for i in doc["intervals"])
    assert counted <= received["bytes"]


def test_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "net", "-t", "0.3s"]) == 0
    out = capsys.readouterr().out
    assert "sender" in out
    assert "receiver" in out
    assert "Gbit/s" in out


def test_zero_time_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "net", "-t", "0"]) == 2
    assert "--time must be longer than zero" in capsys.readouterr().err


def test_udp_at_a_rate(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "net", "-u", "-b", "20M", "-t", "0.6s", "-i", "0.2s", "--json"]) == 0
    doc = validate(json.loads(capsys.readouterr().out), "bench-net")
    assert doc["start"]["test_start"]["protocol"] == "UDP"
    udp = doc["end"]["sum"]
    assert udp["packets"] > 0
    assert udp["lost_packets"] == udp["packets"] - doc["end"]["sum_received"]["bytes"] // 1448
    assert udp["jitter_ms"] >= 0
    # paced: never more than the rate asks for (a datagram of slack)
    assert doc["end"]["sum_sent"]["bytes"] <= 20e6 / 8 * 0.6 + 1448


@pytest.mark.parametrize("reverse", [False, True])
def test_udp_streams_and_reverse_in_iperf3_shape(reverse: bool,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["bench", "net", "-u", "-b", "10M", "-P", "2", "-t", "0.6s", "-i", "0.2s", "--json"]
    assert main([*argv, "-R"] if reverse else argv) == 0
    doc = validate(json.loads(capsys.readouterr().out), "bench-net")
    test = doc["start"]["test_start"]
    assert (test["protocol"], test["num_streams"], test["reverse"]) == ("UDP", 2, int(reverse))
    end = doc["end"]
    # iperf3 3.12's UDP end: sum and sum_received carry the receivers' figures, sum_sent the
    # datagrams sent with no loss or jitter of its own
    assert end["sum"]["packets"] == end["sum_sent"]["packets"] == end["sum_received"]["packets"]
    assert end["sum"]["lost_packets"] == end["sum_received"]["lost_packets"]
    assert end["sum_sent"]["lost_packets"] == 0
    assert end["sum_sent"]["jitter_ms"] == 0
    received = end["sum_received"]["bytes"] // 1448
    assert end["sum"]["lost_packets"] == end["sum"]["packets"] - received
    # iperf3 3.12's flags: sum follows -R, sum_sent and sum_received do not (for UDP)
    assert (end["sum"]["sender"], end["sum_sent"]["sender"], end["sum_received"]["sender"]) == (
        not reverse, True, False)
    # -b is per stream, as iperf3's: two streams send up to twice the rate
    assert 10e6 / 8 * 0.6 < end["sum_sent"]["bytes"] <= 2 * (10e6 / 8 * 0.6 + 1448)
    for interval in doc["intervals"]:
        assert [s["socket"] for s in interval["streams"]] == [1, 2]
        assert interval["sum"]["bytes"] == sum(s["bytes"] for s in interval["streams"])


@pytest.mark.parametrize(("argv", "words"), [
    (["-u", "-b", "fast"], "invalid bitrate 'fast'"),
    (["-u", "-b", "0"], "invalid bitrate '0'"),
])
def test_udp_refusals(argv: list[str], words: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "net", "-t", "0.2s", *argv]) == 2
    assert words in capsys.readouterr().err


def test_udp_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "net", "-u", "-b", "5M", "-t", "0.3s"]) == 0
    assert "jitter " in capsys.readouterr().out


@pytest.mark.parametrize("udp", [False, True])
def test_ctrl_c_prints_what_was_measured_then_exits_130(
        udp: bool, capsys: pytest.CaptureFixture[str]) -> None:
    base = threading.active_count()

    def ctrl_c_once_running() -> None:
        # this thread, then a sender and a receiver: the test is under way
        wait_for(lambda: threading.active_count() >= base + 3, timeout_s=60,
                 what="the test's threads")
        _thread.interrupt_main()  # what Ctrl-C does to the main thread

    ctrl_c = threading.Thread(target=ctrl_c_once_running)
    ctrl_c.start()
    argv = ["bench", "net", "-t", "60s", "-i", "0.1s", "--json"]
    assert main([*argv, "-u", "-b", "10M"] if udp else argv) == 130
    ctrl_c.join()
    captured = capsys.readouterr()
    doc = validate(json.loads(captured.out), "bench-net")
    assert doc["interrupted"] is True
    assert doc["start"]["test_start"]["duration"] == 60
    assert 0 < doc["end"]["sum_sent"]["seconds"] < 60
    assert "interrupted" in captured.err

"""Durations, sizes, rates: parsing and formatting."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perflab.errors import InvalidValue
from perflab.units import (
    compact_count,
    compact_percent,
    compact_size,
    compact_uptime,
    format_byte_rate,
    format_duration,
    format_duration_ns,
    format_percent,
    format_rate,
    format_size,
    format_timestamp,
    format_value,
    parse_duration,
    parse_duration_ns,
    parse_percent,
    parse_rate,
    parse_size,
    parse_time_ns,
    printable,
)


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("250ms", 250_000_000),
        ("1m", 60_000_000_000),
        ("1h30m", 5_400_000_000_000),
        ("1.5s", 1_500_000_000),
        ("100us", 100_000),
        ("100µs", 100_000),
        ("20ns", 20),
        ("2", 2_000_000_000),
        ("0.5", 500_000_000),
        ("1m30s", 90_000_000_000),
    ],
)
def test_parse_duration_accepts_go_syntax_and_bare_seconds(text, ns):
    assert parse_duration_ns(text) == ns


@pytest.mark.parametrize("bad", ["", "abc", "10x", "s10", "1m 30s", "-5", "5s3"])
def test_parse_duration_rejects_garbage_with_a_hint(bad):
    with pytest.raises(InvalidValue) as info:
        parse_duration_ns(bad)
    assert info.value.exit_code == 2
    if bad and bad != "-5":
        assert "250ms" in (info.value.hint or "")


def test_sizes_are_si_or_binary_by_suffix():
    assert parse_size("10MB") == 10_000_000
    assert parse_size("10MiB") == 10 * 1024**2
    assert parse_size("2G") == 2 * 1024**3
    assert parse_size("512") == 512
    with pytest.raises(InvalidValue):
        parse_size("12 parsecs")


def test_rates_and_percentages():
    assert parse_rate("1000") == 1000
    assert parse_rate("2k") == 2000
    assert parse_rate("60/min") == 1
    assert parse_percent("5%") == pytest.approx(0.05)
    assert parse_percent("0.05") == pytest.approx(0.05)


def test_format_picks_the_unit_of_the_magnitude():
    assert format_duration_ns(1_234_000) == "1.23ms"
    assert format_duration_ns(45_600) == "45.6µs"
    assert format_duration_ns(125e9) == "2m05s"
    assert format_size(1536) == "1.50KiB"
    assert format_size(100) == "100B"


def test_zero_duration_is_written_as_go_writes_it():
    assert format_duration_ns(0) == "0s"
    assert format_duration(0.0) == "0s"


def test_timestamps_are_utc_to_the_second():
    assert format_timestamp(1_700_000_000_999_999_999) == "2023-11-14 22:13:20 UTC"


def test_byte_rates_are_binary_like_sizes_and_counts_are_si():
    assert format_byte_rate(1536) == "1.50KiB/s"
    assert format_byte_rate(3 * 1024**2) == "3.00MiB/s"
    assert format_rate(3400) == "3.40k/s"
    assert format_percent(12.345) == "12.3%"


@pytest.mark.parametrize(("value", "unit", "shown"), [
    (12.5, "%", "12.5%"),
    (1.2 * 1024**3, "bytes", "1.20GiB"),
    (3 * 1024**2, "bytes/s", "3.00MiB/s"),
    (120, "/s", "120/s"),
    (0.00235, "s", "2.35ms"),
    (0, "s", "0s"),
    (64, "", "64"),
    (2_500_000, "req", "2.50M req"),
    (12, "allocs/op", "12 allocs/op"),  # a whole value keeps its unit too
    (float("inf"), "/s", "∞ /s"),
    (float("-inf"), "bytes", "-∞ bytes"),
    (None, "%", "-"),
    (float("nan"), "bytes", "-"),
])
def test_values_in_the_unit_of_their_series(value, unit, shown):
    assert format_value(value, unit) == shown


@pytest.mark.parametrize(("fn", "value", "shown"), [
    (compact_size, 512, "512"), (compact_size, 1536, "1.5K"), (compact_size, 12 * 1024, "12K"),
    (compact_size, 123 * 1024**2, "123M"), (compact_size, None, "-"),
    (compact_size, 999 * 1024**5, "999P"), (compact_size, 2 * 1024**6, "2.0E"),  # was 2048E
    (compact_count, 12.54, "12.5"), (compact_count, 1234, "1234"),
    (compact_count, 12_300, "12.3k"), (compact_count, 4_500_000, "4.5M"),
    (compact_count, 999_400_000, "999M"), (compact_count, 1.5e12, "1.5T"),
    (compact_percent, 12.54, "12.5"), (compact_percent, 1600, "1600"),
    (compact_uptime, 4 * 3600 + 5 * 60, "04:05"),
    (compact_uptime, 3 * 86400 + 4 * 3600 + 5 * 60 + 59, "3d 04:05"),
])
def test_compact_forms_fit_five_characters(fn, value, shown):
    assert fn(value) == shown
    assert len(shown) <= 5 or fn is compact_uptime


@given(st.integers(min_value=0, max_value=10**15))
def test_formatted_durations_parse_back_within_rounding(ns):
    text = format_duration_ns(ns).replace("µs", "us")
    if "m" in text and "ms" not in text:
        return  # h/m/s form rounds to whole seconds
    assert parse_duration(text) == pytest.approx(ns / 1e9, rel=5e-3, abs=1e-9)


@pytest.mark.parametrize(("raw", "shown"), [
    ("python3 -m http.server", "python3 -m http.server"),
    ("bash -c echo a\necho b", "bash -c echo a?echo b"),
    ("x\ty\r\x1b[2Jz\x7f\x9b", "x?y??[2Jz??"),
    ("naïve ✓ 日本", "naïve ✓ 日本"),  # printable non-ASCII stays as it is
])
def test_printable_shows_control_characters_as_ps_does(raw, shown):
    assert printable(raw) == shown


@pytest.fixture
def in_kolkata(monkeypatch):
    """Local time is UTC+05:30 (no daylight saving to blur the test)."""
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_times_without_a_zone_are_local_on_the_command_line_and_utc_in_the_api(in_kolkata):
    utc_noon = 1_795_780_800 * 10**9  # 2026-11-27T12:00:00Z
    assert parse_time_ns("2026-11-27T12:00:00Z") == utc_noon
    assert parse_time_ns("2026-11-27T17:30:00+05:30") == utc_noon
    assert parse_time_ns("2026-11-27T17:30") == utc_noon  # local: as `runs` prints times
    assert parse_time_ns("2026-11-27T12:00", naive_utc=True) == utc_noon
    assert parse_time_ns(" 2026-11-27 ") == utc_noon - 17.5 * 3600 * 10**9  # local midnight
    with pytest.raises(ValueError, match="Invalid isoformat"):
        parse_time_ns("yesterday")

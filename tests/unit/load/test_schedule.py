"""Arrival schedules: constant rates and k6-style ramps, and their inverse (intended times)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perflab.errors import InvalidValue
from perflab.load._schedule import Schedule, Stage, parse_stages


def test_parse_stages():
    assert parse_stages("30s:100, 1m:2k,30s:0") == (
        Stage(30.0, 100.0), Stage(60.0, 2000.0), Stage(30.0, 0.0))


@pytest.mark.parametrize(("text", "bad"), [("30s", "'30s'"), ("30s:100,xx:5", "'xx:5'"),
                                           ("0s:100", "'0s:100'"), ("10s:fast", "'10s:fast'")])
def test_bad_stages_name_the_bad_part(text, bad):
    with pytest.raises(InvalidValue) as exc:
        parse_stages(text)
    assert bad in exc.value.message


def test_constant_rate_spaces_requests_evenly():
    s = Schedule.constant(1000, 10)
    assert s.total == 10_000
    assert s.time_of(0) == 0
    assert s.time_of(500) == pytest.approx(0.5)
    assert s.arrivals_by(2.5) == pytest.approx(2500)


def test_a_ramp_counts_the_area_under_the_rate():
    s = Schedule((Stage(10, 100), Stage(10, 100), Stage(10, 0)))
    # 0->100 over 10 s: 500; flat 100 for 10 s: 1000; 100->0 over 10 s: 500
    assert s.total == 2000
    assert s.duration_s == 30
    assert s.rate_at(5) == pytest.approx(50)
    assert s.arrivals_by(10) == pytest.approx(500)
    assert s.time_of(500) == pytest.approx(10)
    assert s.time_of(125) == pytest.approx(5)  # 100/10/2 * t^2 = 125 at t = 5


@given(st.lists(st.tuples(st.floats(0.1, 100), st.floats(0, 5000)), min_size=1, max_size=5),
       st.floats(0, 1))
def test_time_of_inverts_arrivals_by(stages, frac):
    s = Schedule(tuple(Stage(d, r) for d, r in stages))
    if s.total == 0:
        return
    i = frac * (s.total - 1)
    assert s.arrivals_by(s.time_of(i)) == pytest.approx(i, abs=1e-6 * max(1, s.total))


def test_intended_times_never_go_backwards():
    s = Schedule((Stage(1, 300), Stage(2, 50), Stage(1, 400)))
    times = [s.time_of(i) for i in range(s.total)]
    assert times == sorted(times)

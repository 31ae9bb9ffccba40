"""The leak verdict: a rising floor under a GC sawtooth is a leak, the sawtooth alone, noise and a
warm-up that levels off are not, and a too-short watch says so."""

from __future__ import annotations

import math
import random

import pytest

from perflab.debug._trend import (
    LEAK,
    NO_LEAK,
    NOT_ENOUGH,
    assess,
    dominant_period,
    floor_points,
    lag1_autocorrelation,
    mann_kendall,
    step_test,
    theil_sen,
)

MB = 1 << 20


def sawtooth(n, leak_mb_per_min, *, period=30, amplitude=50 * MB, noise=16384, seed=0):
    rng = random.Random(seed)
    t = [float(i) for i in range(n)]
    y = [200 * MB + amplitude * (i % period) / period + leak_mb_per_min * MB * i / 60
         + rng.randrange(noise) for i in range(n)]
    return t, y


@pytest.mark.parametrize("seed", range(5))
def test_a_leak_of_1_mb_per_minute_under_a_50_mb_sawtooth_is_found_in_two_minutes(seed):
    t, y = sawtooth(120, 1.0, seed=seed)
    trend = assess(t, y, min_growth=MB)
    assert trend.verdict == LEAK
    assert trend.period_s == pytest.approx(30)
    assert trend.slope_per_s * 60 / MB == pytest.approx(1.0, rel=0.1)


@pytest.mark.parametrize("seed", range(5))
def test_the_sawtooth_alone_over_ten_minutes_is_no_leak(seed):
    t, y = sawtooth(600, 0.0, seed=seed)
    trend = assess(t, y, min_growth=MB)
    assert trend.verdict == NO_LEAK
    assert abs(trend.growth) < MB


def test_a_warm_up_that_levels_off_is_not_a_leak():
    # a cache filling for five minutes, then full, under the same sawtooth
    t, y = sawtooth(600, 0.0)
    y = [v + min(ti, 300) / 60 * 4 * MB for ti, v in zip(t, y, strict=True)]
    trend = assess(t, y, min_growth=MB)
    assert trend.verdict == NO_LEAK
    assert "levelled off" in trend.reason


def test_steady_growth_without_a_sawtooth_is_a_leak_and_noise_is_not():
    rng = random.Random(3)
    t = [float(i) for i in range(200)]
    growing = [100.0 * MB + 20_000 * ti + rng.randrange(65536) for ti in t]
    flat = [100.0 * MB + rng.randrange(65536) for _ in t]
    assert assess(t, growing, min_growth=MB).verdict == LEAK
    assert assess(t, flat, min_growth=MB).verdict == NO_LEAK


def test_a_random_walk_without_drift_is_rarely_called_a_leak():
    """Autocorrelated noise: the widened variance keeps false alarms near the test's level."""
    alarms = 0
    for seed in range(40):
        rng = random.Random(seed)
        level, y = 100.0 * MB, []
        for _ in range(300):
            level += rng.gauss(0, 20_000)
            y.append(level)
        alarms += assess([float(i) for i in range(300)], y, min_growth=MB).verdict == LEAK
    assert alarms <= 6


def test_a_steady_rise_whose_pace_wobbles_is_a_leak_not_a_sawtooth():
    """A native leak's RSS as a busy machine records it: up at every sample, its pace following
    a 13 s wave. The wave repeats, but the series never falls, so it is no sawtooth (whose
    blocks' minima would be two points, "not enough data"); its residual wanders, so its steps
    are tested."""
    t = [float(i) for i in range(31)]
    y = [50.0 * MB]
    for i in range(30):
        y.append(y[-1] + 2.3 * MB * (1 + 0.08 * math.sin(2 * math.pi * i / 13)))
    assert dominant_period(t, y) is None
    trend = assess(t, y, min_growth=MB)
    assert trend.verdict == LEAK
    assert trend.reason.startswith("the level rises steadily (p = ")
    assert trend.reason.endswith(", t-test of its 30 steps)")
    assert trend.p_value is not None
    assert trend.p_value < 1e-9


def test_step_test_is_a_t_test_of_the_mean_step() -> None:
    steps, p = step_test([0.0, 1.0, 3.0, 4.0, 6.0])  # steps 1, 2, 1, 2: mean 1.5, sd 0.577
    assert steps == 4
    assert p == pytest.approx(0.0069234, abs=1e-7)  # t = 5.196, 3 df: scipy.stats.ttest_1samp
    assert step_test([1.0, 2.0, 3.0]) == (2, 0.0)  # a line
    assert step_test([3.0, 2.0, 1.0]) == (2, 1.0)
    assert step_test([1.0, 2.0]) == (1, 1.0)  # one step is no evidence


def test_a_sawtooth_as_long_as_the_watch_is_not_a_leak() -> None:
    """A series that wanders without a period (the sawtooth's period is the watch's length): it
    rises at most samples and falls once, so a count of rises would call it a leak; its mean
    step is (last - first) / steps, and those steps' spread keeps the t-test quiet."""
    alarms = 0
    for seed in range(100):
        rng = random.Random(seed)
        period, phase = rng.randint(15, 30), rng.randrange(30)
        y = [100.0 * MB + 30 * MB * ((i + phase) % period) / period + rng.gauss(0, 200_000)
             for i in range(30)]
        alarms += assess([float(i) for i in range(30)], y, min_growth=MB).verdict == LEAK
    assert alarms <= 10


def test_too_short_a_watch_is_not_enough_data():
    t, y = sawtooth(90, 1.0)
    trend = assess(t, y, min_growth=MB)
    assert trend.verdict == NOT_ENOUGH
    # three floors of a 30 s sawtooth: four take 120 s
    assert trend.reason == ("3 periods of a 30 s sawtooth; at least 4 are needed: watch longer "
                            "(at least 120 s past the warm-up)")
    assert assess([0.0, 1.0], [1.0, 2.0], min_growth=0).verdict == NOT_ENOUGH


def test_mann_kendall_exact_and_approximate():
    s, p = mann_kendall([1, 2, 3, 4])
    assert (s, p) == (6, pytest.approx(1 / 24))  # type: ignore[comparison-overlap]
    s, p = mann_kendall([4, 3, 2, 1])
    assert s == -6
    assert p == pytest.approx(1.0)
    assert mann_kendall([1.0]) == (0, 1.0)
    s, p = mann_kendall([1, 1, 2, 2, 3, 3] * 10)  # ties: the normal approximation
    assert s > 0
    assert 0 < p < 1
    # exact and approximate agree on a longer series without ties
    y = [float(i + (i % 3) * 2.5) for i in range(40)]
    _, exact = mann_kendall(y[:30])
    _, approx = mann_kendall(y[:30], autocorrelation=1e-12)
    assert math.isclose(exact, approx, rel_tol=0.5, abs_tol=1e-9)
    # autocorrelation widens the variance: a weaker p for the same S
    _, plain = mann_kendall([*y, 100.0, 100.5])
    _, widened = mann_kendall([*y, 100.0, 100.5], autocorrelation=0.5)
    assert widened > plain
    # the finite series' effective sample size (Yue and Wang): 28 rising points with r = 0.92
    # widen the variance 14.7 times, not the asymptotic (1 + r) / (1 - r) = 24 (p = 0.064)
    _, p = mann_kendall([float(i) for i in range(28)], autocorrelation=0.92)
    assert p == pytest.approx(0.0261, abs=5e-4)


def test_theil_sen_ignores_outliers_and_thins_long_series():
    t = [float(i) for i in range(50)]
    y = [2 * ti + 1 for ti in t]
    y[10] = 1e9
    slope, intercept = theil_sen(t, y)
    assert slope == pytest.approx(2)
    assert intercept == pytest.approx(1)
    long_t = [float(i) for i in range(2000)]
    assert theil_sen(long_t, [3 * v for v in long_t])[0] == pytest.approx(3)
    assert theil_sen([1.0], [5.0]) == (0.0, 5.0)


def test_period_and_floor():
    t, y = sawtooth(150, 0.0, noise=1)
    assert dominant_period(t, y) == 30
    pt, py = floor_points(t, y, 30)
    assert len(pt) == 5
    assert all(v < 200 * MB + 2 for v in py)
    assert dominant_period(t[:6], y[:6]) is None
    assert dominant_period(t, [1.0] * len(t)) is None
    assert lag1_autocorrelation([1.0, 1.0, 1.0]) == 0.0
    assert lag1_autocorrelation([1.0, 2.0, 3.0, 4.0]) > 0

"""Statistics: known values, agreement with SciPy, and invariants checked with Hypothesis."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from perflab.bench._stats import (
    _go_float,
    _u_distribution_twice,
    compare_nothing,
    geomean,
    holm_adjust,
    mann_whitney_u,
    median_ci_orders,
    median_samples_needed,
    summarize_exact,
    summarize_median,
    u_test_min_p,
    u_test_samples_needed,
)

values = st.lists(st.floats(min_value=1e-9, max_value=1e9, allow_nan=False), min_size=1,
                  max_size=30)
distinct = st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=25,
                    unique=True)


def test_min_p_table_matches_benchstat():
    """benchstat's uTestMinP table: the smallest p two samples of size n can reach."""
    expected = {1: 1, 2: 0.3333333333333333, 3: 0.1, 4: 0.02857142857142857,
                5: 0.007936507936507936, 6: 0.0021645021645021645}
    for n, p in expected.items():
        assert u_test_min_p(n) == pytest.approx(p, rel=1e-12)
    assert u_test_samples_needed(0.05) == (">=", 4)
    assert median_samples_needed(0.95) == (">=", 6)


def test_median_interval_orders_at_95_percent():
    """n=10: the 2nd and 9th order statistics bound the median with >= 95 % confidence."""
    lo, hi, conf = median_ci_orders(10, 0.95)
    assert (lo, hi) == (2, 9)
    assert conf >= 0.95
    lo, hi, _ = median_ci_orders(5, 0.95)
    assert lo < 1 or hi > 5  # too small: one side is infinite


def test_small_sample_interval_is_infinite_with_warning():
    s = summarize_median([100e-9, 101e-9])
    assert s.pct_range() == "∞"
    assert s.warnings == ("need >= 6 samples for confidence interval at level 0.95",)


def test_all_equal_samples_give_p_one_and_a_warning():
    c = compare_nothing([1.0] * 6, [1.0] * 6)
    assert c.p == 1.0
    assert c.warnings == ("all samples are equal",)
    assert c.format_delta(1.0, 1.0) == "~"


def test_exact_units_report_the_mode_and_warn_on_spread():
    s = summarize_exact([100.0, 101.0, 101.0])
    assert s.center == 101.0
    assert s.warnings == ("exact distribution expected, but values range from 100 to 101",)


@given(distinct, distinct)
@settings(max_examples=60, deadline=None)
def test_exact_p_without_ties_equals_scipy_exact(a, b):
    """Without ties our exact distribution is the classical one SciPy computes."""
    b = [v + 0.5 for v in b]  # no ties between the samples either
    if len(a) + len(b) < 3:
        return
    ours = mann_whitney_u(a, b).p
    theirs = sps.mannwhitneyu(a, b, alternative="two-sided", method="exact").pvalue
    assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-12)


@given(st.lists(st.integers(0, 6), min_size=26, max_size=40),
       st.lists(st.integers(0, 6), min_size=26, max_size=40))
@settings(max_examples=40, deadline=None)
def test_normal_approximation_equals_scipy_asymptotic(a, b):
    """Above the exact limits: normal approximation with tie and continuity corrections."""
    if len(set(a) | set(b)) == 1:
        return
    ours = mann_whitney_u([float(x) for x in a], [float(x) for x in b]).p
    theirs = sps.mannwhitneyu(a, b, alternative="two-sided", method="asymptotic",
                              use_continuity=True).pvalue
    assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-12)


@given(st.lists(st.integers(0, 5), min_size=1, max_size=12),
       st.lists(st.integers(0, 5), min_size=1, max_size=12))
@settings(max_examples=60, deadline=None)
def test_exact_distribution_with_ties_is_a_distribution(a, b):
    """Conditional on the tie pattern the U distribution sums to 1 (with ties it need not be
    symmetric: ties at one end shift mass; benchstat's two-sided p doubles the lower tail of
    the first sample's statistic, and so do we)."""
    merged = sorted(a + b)
    ties = []
    i = 0
    while i < len(merged):
        j = i
        while j < len(merged) and merged[j] == merged[i]:
            j += 1
        ties.append(j - i)
        i = j
    probs = _u_distribution_twice(len(a), len(b), tuple(ties))
    assert math.fsum(probs.tolist()) == pytest.approx(1.0, abs=1e-12)
    assert (probs >= 0).all()


@given(distinct, distinct)
@settings(max_examples=80, deadline=None)
def test_u_test_without_ties_is_symmetric(a, b):
    """Without ties, swapping the samples changes nothing."""
    b = [v + 0.5 for v in b]
    c1, c2 = compare_nothing(a, b), compare_nothing(b, a)
    assert c1.p == pytest.approx(c2.p, rel=1e-12)


@given(values, values)
@settings(max_examples=80, deadline=None)
def test_p_is_a_probability(a, b):
    """p stays within (0, 1] even where doubling a tail of a tied distribution exceeds 1."""
    assert 0 < compare_nothing(a, b).p <= 1


@given(values, values, st.integers(min_value=-10, max_value=10).map(lambda e: 2.0**e))
@settings(max_examples=60, deadline=None)
def test_scaling_both_samples_keeps_p_and_range(a, b, k):
    """Units do not matter: ns or s, the ranks, p and the ±% are the same.

    The factor is a power of two, so scaling is exact in floating point: with an arbitrary
    factor, rounding can merge two nearly equal values into a tie, which changes the ranks for
    a reason that is the float's, not the statistic's.
    """
    p1 = compare_nothing(a, b).p
    p2 = compare_nothing([x * k for x in a], [x * k for x in b]).p
    assert p1 == pytest.approx(p2, rel=1e-9)


@given(values)
@settings(max_examples=80, deadline=None)
def test_median_lies_inside_its_interval(a):
    s = summarize_median(a)
    assert s.lo <= s.center <= s.hi
    assert min(a) <= s.center <= max(a)


@given(st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=40))
def test_holm_adjusted_values_dominate_raw_and_keep_order(ps):
    adj = holm_adjust(ps)
    assert all(q >= p - 1e-15 for p, q in zip(ps, adj, strict=True))
    assert all(q <= 1 for q in adj)
    order = sorted(range(len(ps)), key=lambda i: ps[i])
    assert all(adj[order[i]] <= adj[order[i + 1]] for i in range(len(order) - 1))


@given(st.lists(st.floats(min_value=1e-6, max_value=1e6), min_size=1, max_size=30))
def test_geomean_lies_between_min_and_max(xs):
    g = geomean(xs)
    assert min(xs) * (1 - 1e-12) <= g <= max(xs) * (1 + 1e-12)


def test_geomean_refuses_non_positive_values():
    assert math.isnan(geomean([1.0, 0.0]))


@pytest.mark.parametrize(("x", "text"), [(0.95, "0.95"), (1e21, "1e+21"), (1.5e-7, "1.5e-07"),
                                         (100.0, "100"), (2.2530000000000003e-06,
                                                          "2.2530000000000003e-06")])
def test_floats_print_as_go_prints_them(x, text):
    assert _go_float(x) == text


def test_assume_normal_uses_mean_and_welch_t_test():
    """Units declared `assume=normal` get benchstat's parametric treatment."""
    from perflab.bench._stats import compare_normal, summarize_mean  # noqa: PLC0415

    a, b = [10.0, 11.0, 12.0, 13.0], [20.0, 22.0, 21.0, 23.0, 24.0]
    s = summarize_mean(a)
    assert s.center == 11.5
    expected = sps.t.interval(0.95, 3, loc=11.5, scale=sps.sem(a))
    assert (s.lo, s.hi) == pytest.approx(expected)
    p = compare_normal(a, b).p
    assert p == pytest.approx(sps.ttest_ind(a, b, equal_var=False).pvalue)

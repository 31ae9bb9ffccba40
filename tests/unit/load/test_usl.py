"""The Universal Scalability Law fit: it recovers known parameters from noisy throughput."""

from __future__ import annotations

import numpy as np
import pytest

from perflab.errors import InvalidValue
from perflab.load import fit_usl
from perflab.load._usl import usl


@pytest.mark.parametrize(("sigma", "kappa", "lam"), [(0.05, 0.002, 100.0), (0.2, 0.0005, 40.0),
                                                     (0.03, 0.0008, 500.0)])
def test_the_fit_recovers_sigma_and_kappa_within_ten_percent(sigma, kappa, lam):
    rng = np.random.default_rng(7)
    sizes = np.array([1, 2, 4, 8, 12, 16, 24, 32, 48, 64], dtype=np.float64)
    measured = usl(sizes, sigma, kappa, lam) * (1 + rng.normal(0, 0.01, sizes.size))
    fit = fit_usl(list(zip(sizes.tolist(), measured.tolist(), strict=True)))
    assert fit.sigma == pytest.approx(sigma, rel=0.10)
    assert fit.kappa == pytest.approx(kappa, rel=0.10)
    assert fit.lam == pytest.approx(lam, rel=0.05)
    assert fit.stderr is not None
    assert fit.r2 is not None
    assert fit.r2 > 0.99
    assert fit.peak_n == pytest.approx(np.sqrt((1 - sigma) / kappa), rel=0.10)


def test_exact_points_fit_exactly_and_predict_other_sizes():
    points = [(n, float(usl(n, 0.1, 0.001, 50.0))) for n in (1, 2, 4, 8, 16)]
    fit = fit_usl(points)
    assert fit.rmse < 1e-6
    assert fit.predict(64) == pytest.approx(float(usl(64, 0.1, 0.001, 50.0)), rel=1e-6)
    doc = fit.to_json()
    assert doc["lambda"] == pytest.approx(50.0)
    assert doc["predicted"][0] == [1.0, pytest.approx(50.0)]
    assert doc["predicted"][-1][0] >= 64  # past the largest size measured


def test_three_points_fit_without_an_error_estimate():
    fit = fit_usl([(1, 10.0), (2, 18.0), (4, 30.0)])
    assert fit.stderr is None
    assert fit.to_json()["sigma_stderr"] is None


def test_no_coherency_cost_means_no_peak():
    fit = fit_usl([(n, float(usl(n, 0.1, 0.0, 20.0))) for n in (1, 2, 4, 8)])
    assert fit.kappa == pytest.approx(0.0, abs=1e-6)
    assert fit.peak_n is None or fit.peak_n > 1000


@pytest.mark.parametrize(("points", "says"), [
    ([(1, 10.0), (2, 18.0)], "three sizes"),
    ([(1, 10.0), (1, 11.0), (2, 18.0)], "three sizes"),
    ([(0, 10.0), (2, 18.0), (4, 30.0)], "size 0"),
    ([(1, 10.0), (2, -1.0), (4, 30.0)], "throughput -1"),
])
def test_bad_points_are_one_clear_error(points, says):
    with pytest.raises(InvalidValue, match=says):
        fit_usl(points)

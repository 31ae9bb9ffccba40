"""The Universal Scalability Law (Gunther): throughput at size N from three parameters.

    X(N) = lambda * N / (1 + sigma * (N - 1) + kappa * N * (N - 1))

``lambda`` is the throughput of one unit (a worker, a node), ``sigma`` the contention (the
serial share: Amdahl), ``kappa`` the coherency cost (crosstalk between units; with it,
throughput has a peak and then falls). The fit is non-linear least squares (scipy's
``curve_fit``, bounded to sigma, kappa >= 0), started from the linear fit of N/X, which is a
quadratic in N; the parameters' standard errors come from the fit's covariance.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from perflab.errors import InvalidValue

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import NDArray

    from perflab.load._contracts import LoadCapacityUsl


def usl(n: NDArray[np.float64] | float, sigma: float, kappa: float,
        lam: float) -> NDArray[np.float64]:
    """Throughput at size ``n`` (an array or one size)."""
    x = np.asarray(n, dtype=np.float64)
    return np.asarray(lam * x / (1 + sigma * (x - 1) + kappa * x * (x - 1)), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class UslFit:
    sigma: float
    kappa: float
    lam: float
    stderr: tuple[float, float, float] | None  # sigma, kappa, lambda (None: too few points)
    rmse: float
    r2: float | None
    points: tuple[tuple[float, float], ...]

    @property
    def peak_n(self) -> float | None:
        """The size of highest throughput: sqrt((1 - sigma) / kappa)."""
        if self.kappa <= 0 or self.sigma >= 1:
            return None
        return math.sqrt((1 - self.sigma) / self.kappa)

    def predict(self, n: float) -> float:
        return float(usl(n, self.sigma, self.kappa, self.lam))

    def to_json(self) -> LoadCapacityUsl:
        largest = max(n for n, _ in self.points)
        sizes = [1.0]
        while sizes[-1] < largest * 4:
            sizes.append(sizes[-1] * 2)
        err = self.stderr
        return {
            "sigma": self.sigma, "kappa": self.kappa, "lambda": self.lam,
            "sigma_stderr": None if err is None else err[0],
            "kappa_stderr": None if err is None else err[1],
            "lambda_stderr": None if err is None else err[2],
            "rmse": self.rmse, "r2": self.r2, "peak_n": self.peak_n,
            "points": [[n, x] for n, x in self.points],
            "predicted": [[n, round(self.predict(n), 6)] for n in sizes],
        }


def fit_usl(points: Sequence[tuple[float, float]]) -> UslFit:
    """Fit (size, throughput) pairs. Needs three distinct sizes (three parameters)."""
    from scipy.optimize import OptimizeWarning, curve_fit  # noqa: PLC0415  # only to fit

    pts = [(float(size), float(rps)) for size, rps in points]
    for size, rps in pts:
        if not (size >= 1 and rps > 0 and math.isfinite(size) and math.isfinite(rps)):
            raise InvalidValue(f"cannot fit the scalability law to size {size:g}, "
                               f"throughput {rps:g}",
                               hint="sizes must be 1 or more, throughputs positive")
    if len({size for size, _ in pts}) < 3:  # three parameters
        raise InvalidValue("the scalability law needs throughput at three sizes or more",
                           hint="run the capacity search at three --scale-param values")
    n = np.array([p[0] for p in pts])
    x = np.array([p[1] for p in pts])
    start = _linear_start(n, x)
    try:
        with warnings.catch_warnings():  # no covariance (3 points): stderr None below
            warnings.simplefilter("ignore", OptimizeWarning)
            params, cov = curve_fit(usl, n, x, p0=start,
                                    bounds=([0.0, 0.0, 0.0], [1.0, np.inf, np.inf]),
                                    maxfev=20_000)
    except (RuntimeError, ValueError) as exc:
        raise InvalidValue(f"the scalability law does not fit these points: {exc}",
                           hint="measure more sizes, or check that the throughputs are the "
                                "saturated ones") from None
    sigma, kappa, lam = (float(v) for v in params)
    residual = x - usl(n, sigma, kappa, lam)
    rmse = float(np.sqrt(np.mean(residual ** 2)))
    total = float(np.sum((x - x.mean()) ** 2))
    r2 = 1 - float(np.sum(residual ** 2)) / total if total > 0 else None
    stderr = None
    if len(pts) > 3 and np.all(np.isfinite(cov)):  # dof > 0
        d = np.sqrt(np.diag(cov))
        stderr = (float(d[0]), float(d[1]), float(d[2]))
    return UslFit(sigma, kappa, lam, stderr, rmse, r2, tuple(pts))


def _linear_start(n: NDArray[np.float64], x: NDArray[np.float64]) -> list[float]:
    """N/X = (1 + sigma (N-1) + kappa N (N-1)) / lambda is linear in 1/lambda, sigma/lambda
    and kappa/lambda: least squares on it gives the non-linear fit its starting point."""
    design = np.column_stack([np.ones_like(n), n - 1, n * (n - 1)])
    (a, b, c), *_ = np.linalg.lstsq(design, n / x, rcond=None)
    if a <= 0:
        return [0.01, 0.0001, float(x[0] / n[0])]
    return [min(max(b / a, 0.0), 1.0), max(c / a, 0.0), 1 / a]

"""What the demo found, computed from what the run recorded — never asserted.

Each planted problem has a signature in the measurements:

- **CPU-hot endpoint**: the CPU the service spends per request rises between the normal phase
  and the CPU phase, and one endpoint's latency rises with it, by far more milliseconds than the
  others'. CPU per request (not CPU %) is what is compared: on a busy shared machine the service
  may get little CPU time, but what it spends per request does not depend on that.
- **Lock (serialisation)**: in the lock phase one endpoint is driven at rising concurrency; its
  latency grows in proportion while its throughput stays flat and the service's CPU stays low —
  requests queue for something that is not the CPU.
- **Leak**: in the leak phase the service's RSS grows along a straight line (a least-squares fit
  gives the slope in bytes per minute and how straight it is, r²).
- **Thresholds**: the load engine judged each phase's traffic against its thresholds (``/work``
  ``p90<5ms``); one that failed is a finding (which endpoint, which phase, the measured value).

The pure functions take plain ``(ts_ns, value)`` samples so they can be tested exactly;
``findings_from_store`` reads a demo run and calls them.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
from scipy import stats

from perflab.demo._contracts import (
    DemoCpu,
    DemoFindings,
    DemoLeak,
    DemoLock,
    DemoThresholds,
    DemoThresholdsCheck,
)
from perflab.load import load_view
from perflab.units import format_duration, format_size

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from perflab.demo._profiling import ProfileFinding
    from perflab.demo._regression import RegressionFinding
    from perflab.demo._resilience import ResilienceFinding
    from perflab.demo._tracing import TraceFinding
    from perflab.store import Store

NS = 1_000_000_000

# Thresholds. They are far from what the planted faults produce (see docs/demo.md for typical
# figures) and far from what a healthy service does, so a busy shared machine does not flip them.
CPU_PER_REQUEST_RATIO_MIN = 4.0  # CPU seconds per request, CPU phase / normal phase
CPU_LATENCY_RATIO_MIN = 3.0    # the hot endpoint's p50 at least this many times its baseline
LOCK_LATENCY_SHARE_MIN = 0.5   # latency must grow by at least half the concurrency ratio
LOCK_THROUGHPUT_SHARE_MAX = 0.25  # ... while throughput grows by less than a quarter of it
LOCK_CPU_MAX_PCT = 35.0        # ... and the service stays mostly idle (% of one core)
LEAK_SLOPE_MIN_BYTES_PER_MIN = 4 * 1024**2
LEAK_R2_MIN = 0.8


@dataclass(frozen=True, slots=True)
class Window:
    """A phase of the demo: ``(start_ns, end_ns]``."""

    name: str
    start_ns: int
    end_ns: int


@dataclass(frozen=True)
class CpuFinding:
    detected: bool
    endpoint: str | None
    service_cpu_pct: tuple[float | None, float | None]  # (normal phase, CPU phase), mean
    latency_p50_ms: tuple[float | None, float | None]   # the endpoint's (normal, CPU phase)
    latency_ratio: float | None
    cpu_ms_per_request: tuple[float | None, float | None] = (None, None)  # (normal, CPU phase)
    other_endpoints: dict[str, float] = field(default_factory=dict)  # endpoint -> latency ratio
    kind: Literal["cpu"] = "cpu"

    @property
    def summary(self) -> str:
        (c0, c1), (l0, l1) = self.service_cpu_pct, self.latency_p50_ms
        if (self.endpoint is None or self.latency_ratio is None or c0 is None or c1 is None
                or l0 is None or l1 is None):
            return "CPU: not measured (the CPU phase did not complete)"
        others = ", ".join(f"{e} {r:.1f}x" for e, r in sorted(self.other_endpoints.items()))
        text = f"the service's CPU went from {c0:.0f}% to {c1:.0f}% of a core"
        r0, r1 = self.cpu_ms_per_request
        if r0 is not None and r1 is not None:
            text += f" ({_ms(r0)} → {_ms(r1)} of CPU per request)"
        text += (f" and {self.endpoint} p50 latency from {_ms(l0)} to {_ms(l1)} "
                 f"({self.latency_ratio:.0f}x)")
        if others:
            text += f"; other endpoints: {others} (they wait for the same interpreter)"
        verdict = (f"{self.endpoint} is CPU-hot" if self.detected
                   else "no CPU-hot endpoint stands out")
        return f"CPU: {verdict} — {text}"

    def to_json(self) -> DemoCpu:
        return {
            "kind": self.kind, "detected": self.detected, "endpoint": self.endpoint,
            "summary": self.summary,
            "service_cpu_pct": {"normal": _r(self.service_cpu_pct[0]),
                                "hot": _r(self.service_cpu_pct[1])},
            "latency_p50_ms": {"normal": _r(self.latency_p50_ms[0], 3),
                               "hot": _r(self.latency_p50_ms[1], 3)},
            "latency_ratio": _r(self.latency_ratio),
            "cpu_ms_per_request": {"normal": _r(self.cpu_ms_per_request[0], 4),
                                   "hot": _r(self.cpu_ms_per_request[1], 4)},
            "other_endpoints": {e: round(float(r), 2) for e, r in self.other_endpoints.items()},
        }


@dataclass(frozen=True, slots=True)
class LockLevel:
    concurrency: int
    latency_p50_ms: float
    rps: float


@dataclass(frozen=True)
class LockFinding:
    detected: bool
    endpoint: str | None
    levels: tuple[LockLevel, ...]
    service_cpu_pct: float | None
    kind: Literal["lock"] = "lock"

    @property
    def latency_ratio(self) -> float | None:
        if len(self.levels) < 2:
            return None
        return self.levels[-1].latency_p50_ms / max(self.levels[0].latency_p50_ms, 1e-9)

    @property
    def throughput_ratio(self) -> float | None:
        if len(self.levels) < 2:
            return None
        return self.levels[-1].rps / max(self.levels[0].rps, 1e-9)

    @property
    def hold_ms(self) -> float | None:
        """Under a lock, throughput = 1 / hold time: the time each request keeps the lock."""
        if not self.levels or self.levels[-1].rps <= 0:
            return None
        return 1e3 / self.levels[-1].rps

    @property
    def summary(self) -> str:
        lat, thr, cpu = self.latency_ratio, self.throughput_ratio, self.service_cpu_pct
        if self.endpoint is None or lat is None or thr is None or cpu is None:
            return "lock: not measured (the lock phase did not complete)"
        lo, hi = self.levels[0], self.levels[-1]
        text = (f"{self.endpoint} p50 latency went from {_ms(lo.latency_p50_ms)} at "
                f"concurrency {lo.concurrency} to {_ms(hi.latency_p50_ms)} at {hi.concurrency} "
                f"({lat:.1f}x) while throughput stayed at {lo.rps:.0f} → {hi.rps:.0f} req/s "
                f"({thr:.2f}x) and the service used {cpu:.0f}% of a core")
        if self.detected:
            hold = self.hold_ms
            held = f" for about {_ms(hold)} each" if hold is not None else ""
            return f"lock: {self.endpoint} serialises on a lock{held} — {text}"
        return f"lock: no serialisation found — {text}"

    def to_json(self) -> DemoLock:
        return {
            "kind": self.kind, "detected": self.detected, "endpoint": self.endpoint,
            "summary": self.summary,
            "levels": [{"concurrency": lv.concurrency,
                        "latency_p50_ms": round(float(lv.latency_p50_ms), 3),
                        "rps": round(float(lv.rps), 2)} for lv in self.levels],
            "latency_ratio": _r(self.latency_ratio), "throughput_ratio": _r(self.throughput_ratio),
            "hold_ms": _r(self.hold_ms, 3), "service_cpu_pct": _r(self.service_cpu_pct),
        }


@dataclass(frozen=True)
class LeakFinding:
    detected: bool
    endpoint: str | None
    slope_bytes_per_min: float | None
    r2: float | None
    rss_bytes: tuple[float | None, float | None]  # first and last sample of the leak phase
    baseline_slope_bytes_per_min: float | None
    kind: Literal["leak"] = "leak"

    @property
    def summary(self) -> str:
        slope, r2 = self.slope_bytes_per_min, self.r2
        first, last = self.rss_bytes
        if slope is None or r2 is None or first is None or last is None:
            return "leak: not measured (the leak phase did not complete)"
        sign = "" if slope >= 0 else "-"
        text = (f"the service's RSS grew {sign}{format_size(abs(slope))}/min "
                f"(linear fit, r²={r2:.2f}), from {format_size(first)} to {format_size(last)}")
        if self.baseline_slope_bytes_per_min is not None:
            b = self.baseline_slope_bytes_per_min
            text += (f"; before, with the leak off: {'-' if b < 0 else ''}"
                     f"{format_size(abs(b))}/min")
        if self.detected:
            where = f" behind {self.endpoint}" if self.endpoint else ""
            return f"leak: memory leaks{where} — {text}"
        return f"leak: no steady growth — {text}"

    def to_json(self) -> DemoLeak:
        slope = self.slope_bytes_per_min
        return {
            "kind": self.kind, "detected": self.detected, "endpoint": self.endpoint,
            "summary": self.summary,
            "slope_bytes_per_min": _r(slope, 0),
            "slope_mib_per_min": _r(None if slope is None else slope / 1024**2, 3),
            "r2": _r(self.r2, 4),
            "rss_bytes": {"first": _r(self.rss_bytes[0], 0), "last": _r(self.rss_bytes[1], 0)},
            "baseline_slope_bytes_per_min": _r(self.baseline_slope_bytes_per_min, 0),
        }


@dataclass(frozen=True, slots=True)
class ThresholdCheck:
    """One threshold of one load test of the demo, as the load engine judged it."""

    test: str               # the phase: "cpu phase"
    endpoint: str | None
    threshold: str          # "p90<5ms"
    passed: bool
    actual: float | None
    unit: str               # "ms", "ratio", "/s", "count"

    @property
    def shown(self) -> str:
        if self.actual is None:
            return "no data"
        if self.unit == "ms":
            return _ms(self.actual)
        if self.unit == "ratio":
            return f"{self.actual:.2%}"
        return f"{self.actual:g}{self.unit if self.unit == '/s' else ''}"

    def to_json(self) -> DemoThresholdsCheck:
        return {"test": self.test, "endpoint": self.endpoint, "threshold": self.threshold,
                "passed": self.passed, "actual": _r(self.actual, 3), "unit": self.unit}


@dataclass(frozen=True)
class ThresholdFinding:
    """Thresholds the demo's traffic missed (``detected``) and met."""

    checks: tuple[ThresholdCheck, ...]
    kind: Literal["thresholds"] = "thresholds"

    @property
    def detected(self) -> bool:
        return any(not c.passed for c in self.checks)

    @property
    def endpoint(self) -> str | None:
        return next((c.endpoint for c in self.checks if not c.passed), None)

    @property
    def summary(self) -> str:
        if not self.checks:
            return "thresholds: none judged (no load test with thresholds completed)"
        missed = [c for c in self.checks if not c.passed]
        met = [c for c in self.checks if c.passed]

        def say(cs: list[ThresholdCheck]) -> str:
            return "; ".join(f"{c.endpoint or ''} {c.threshold} in the {c.test} ({c.shown})"
                             .strip() for c in cs)

        if not missed:
            return f"thresholds: all met — {say(met)}"
        text = f"thresholds: missed — {say(missed)}"
        return text + (f"; met — {say(met)}" if met else "")

    def to_json(self) -> DemoThresholds:
        return {"kind": self.kind, "detected": self.detected, "endpoint": self.endpoint,
                "summary": self.summary, "checks": [c.to_json() for c in self.checks]}


@dataclass(frozen=True)
class Findings:
    cpu: CpuFinding
    lock: LockFinding
    leak: LeakFinding
    thresholds: ThresholdFinding = field(default_factory=lambda: ThresholdFinding(()))
    regression: RegressionFinding | None = None  # the benchmark check; None when not run
    profile: ProfileFinding | None = None  # the hot function from py-spy; None when not run
    tracing: tuple[TraceFinding, ...] = ()  # the traced chain's slow call and error path
    resilience: tuple[ResilienceFinding, ...] = ()  # the chain under a latency, an error toxic

    def all(self) -> tuple[CpuFinding | LockFinding | LeakFinding | ThresholdFinding
                           | RegressionFinding | ProfileFinding | TraceFinding
                           | ResilienceFinding, ...]:
        found: tuple[CpuFinding | LockFinding | LeakFinding | ThresholdFinding
                     | RegressionFinding | ProfileFinding | TraceFinding
                     | ResilienceFinding, ...] = (self.cpu, self.lock, self.leak, self.thresholds)
        if self.profile is not None:
            found = (*found, self.profile)
        found = (*found, *self.tracing, *self.resilience)
        return found if self.regression is None else (*found, self.regression)

    def to_json(self) -> DemoFindings:
        out: DemoFindings = {
            "cpu": self.cpu.to_json(), "lock": self.lock.to_json(), "leak": self.leak.to_json(),
            "thresholds": self.thresholds.to_json(),
            "regression": None if self.regression is None else self.regression.to_json()}
        if self.profile is not None:
            out["profile"] = self.profile.to_json()
        for f in self.tracing:  # keyed by kind, its space an underscore
            if f.kind == "slow call":
                out["slow_call"] = f.to_json()
            else:
                out["error_path"] = f.to_json()
        if self.resilience:
            out["resilience"] = [f.to_json() for f in self.resilience]
        return out


# -- the signatures ----------------------------------------------------------------------------

def cpu_finding(normal: Window | None, hot: Window | None,
                service_cpu: Sequence[tuple[int, float]],
                p50_by_endpoint: Mapping[str, Sequence[tuple[int, float]]],
                rps_by_endpoint: Mapping[str, Sequence[tuple[int, float]]]) -> CpuFinding:
    """The endpoint whose latency rose most when the service's CPU per request rose."""
    if normal is None or hot is None:
        return CpuFinding(detected=False, endpoint=None, service_cpu_pct=(None, None),
                          latency_p50_ms=(None, None), latency_ratio=None)
    c0 = _mean(rate_inside(service_cpu, normal))
    c1 = _mean(rate_inside(service_cpu, hot))
    per_request = (_cpu_ms_per_request(c0, rps_by_endpoint, normal),
                   _cpu_ms_per_request(c1, rps_by_endpoint, hot))
    ratios: dict[str, tuple[float, float, float]] = {}
    for endpoint, samples in p50_by_endpoint.items():
        l0 = _median(inside(samples, normal))
        l1 = _median(inside(samples, hot))
        if l0 is not None and l1 is not None and l0 > 0:
            ratios[endpoint] = (l1 / l0, l0, l1)
    if not ratios:
        return CpuFinding(detected=False, endpoint=None, service_cpu_pct=(c0, c1),
                          latency_p50_ms=(None, None), latency_ratio=None,
                          cpu_ms_per_request=per_request)
    # Rank by the added milliseconds, not the ratio: the baselines are sub-millisecond and
    # noisy, and every endpoint of a CPU-bound Python service waits for the interpreter lock
    # (a few ms each); the endpoint that burns the CPU adds its whole compute time.
    endpoint = max(ratios, key=lambda e: ratios[e][2] - ratios[e][1])
    ratio, l0, l1 = ratios[endpoint]
    others = {e: r[0] for e, r in ratios.items() if e != endpoint}
    r0, r1 = per_request
    detected = (r0 is not None and r1 is not None and r1 >= CPU_PER_REQUEST_RATIO_MIN * r0
                and ratio >= CPU_LATENCY_RATIO_MIN)
    return CpuFinding(detected=detected, endpoint=endpoint, service_cpu_pct=(c0, c1),
                      latency_p50_ms=(l0, l1), latency_ratio=ratio,
                      cpu_ms_per_request=per_request, other_endpoints=others)


def _cpu_ms_per_request(cpu_pct: float | None,
                        rps_by_endpoint: Mapping[str, Sequence[tuple[int, float]]],
                        w: Window) -> float | None:
    """Mean CPU (% of a core) over mean total throughput: milliseconds of CPU per request."""
    rates = [_mean(inside(s, w)) for s in rps_by_endpoint.values()]
    total = sum(r for r in rates if r is not None)
    if cpu_pct is None or total <= 0:
        return None
    # a sampled CPU of 0% (below the clock-tick resolution) still means "a little"
    return max(cpu_pct, 1e-3) * 10 / total  # (pct / 100) core-seconds per second * 1000 ms


def lock_finding(window: Window | None, service_cpu: Sequence[tuple[int, float]],
                 p50_by_endpoint: Mapping[str, Sequence[tuple[int, float]]],
                 rps_by_endpoint: Mapping[str, Sequence[tuple[int, float]]],
                 concurrency_by_endpoint: Mapping[str, Sequence[tuple[int, float]]],
                 ) -> LockFinding:
    """Among endpoints driven at several concurrencies: latency ∝ concurrency, flat throughput."""
    if window is None:
        return LockFinding(detected=False, endpoint=None, levels=(), service_cpu_pct=None)
    cpu = _mean(rate_inside(service_cpu, window))
    best: tuple[float, str, tuple[LockLevel, ...]] | None = None
    for endpoint, conc_samples in concurrency_by_endpoint.items():
        levels = _levels(inside(conc_samples, window),
                         dict(inside(p50_by_endpoint.get(endpoint, ()), window)),
                         dict(inside(rps_by_endpoint.get(endpoint, ()), window)))
        if len(levels) < 2:
            continue
        ratio = levels[-1].latency_p50_ms / max(levels[0].latency_p50_ms, 1e-9)
        if best is None or ratio > best[0]:
            best = (ratio, endpoint, levels)
    if best is None:
        return LockFinding(detected=False, endpoint=None, levels=(), service_cpu_pct=cpu)
    latency_ratio, endpoint, levels = best
    concurrency_ratio = levels[-1].concurrency / levels[0].concurrency
    throughput_ratio = levels[-1].rps / max(levels[0].rps, 1e-9)
    detected = (latency_ratio >= LOCK_LATENCY_SHARE_MIN * concurrency_ratio
                and throughput_ratio <= max(1.0, LOCK_THROUGHPUT_SHARE_MAX * concurrency_ratio)
                and cpu is not None and cpu <= LOCK_CPU_MAX_PCT)
    return LockFinding(detected=detected, endpoint=endpoint, levels=levels, service_cpu_pct=cpu)


def _levels(concurrency: Sequence[tuple[int, float]], p50: dict[int, float],
            rps: dict[int, float]) -> tuple[LockLevel, ...]:
    by_level: dict[int, tuple[list[float], list[float]]] = {}
    for ts, c in concurrency:
        if ts in p50 and ts in rps:
            lat, thr = by_level.setdefault(round(c), ([], []))
            lat.append(p50[ts])
            thr.append(rps[ts])
    return tuple(
        LockLevel(c, statistics.median(lat), statistics.fmean(thr))
        for c, (lat, thr) in sorted(by_level.items()) if c > 0
    )


def leak_finding(window: Window | None, baseline: Window | None,
                 rss: Sequence[tuple[int, float]],
                 rps_by_endpoint: Mapping[str, Sequence[tuple[int, float]]]) -> LeakFinding:
    """A least-squares line through the RSS samples of the leak phase."""
    if window is None:
        return LeakFinding(detected=False, endpoint=None, slope_bytes_per_min=None, r2=None,
                           rss_bytes=(None, None), baseline_slope_bytes_per_min=None)
    points = inside(rss, window)
    slope, r2 = rss_slope(points)
    base_slope, _ = rss_slope(inside(rss, baseline)) if baseline is not None else (None, None)
    traffic = {e: sum(v for _, v in inside(s, window)) for e, s in rps_by_endpoint.items()}
    traffic = {e: n for e, n in traffic.items() if n > 0}
    endpoint = max(traffic, key=lambda e: traffic[e]) if traffic else None
    detected = (slope is not None and r2 is not None
                and slope >= LEAK_SLOPE_MIN_BYTES_PER_MIN and r2 >= LEAK_R2_MIN)
    return LeakFinding(
        detected=detected, endpoint=endpoint, slope_bytes_per_min=slope, r2=r2,
        rss_bytes=(points[0][1], points[-1][1]) if points else (None, None),
        baseline_slope_bytes_per_min=base_slope,
    )


def rss_slope(points: Sequence[tuple[int, float]]) -> tuple[float | None, float | None]:
    """(bytes per minute, r²) of a least-squares line; (None, None) with fewer than 3 points."""
    if len(points) < 3:
        return None, None
    t = np.array([p[0] for p in points], dtype=np.float64)
    y = np.array([p[1] for p in points], dtype=np.float64)
    if np.ptp(t) == 0:
        return None, None
    if np.ptp(y) == 0:
        return 0.0, 1.0  # perfectly flat: the fit is exact
    fit = stats.linregress((t - t[0]) / (60 * NS), y)
    return float(fit.slope), float(fit.rvalue) ** 2


# -- selecting samples -------------------------------------------------------------------------

def inside(samples: Sequence[tuple[int, float]], w: Window) -> list[tuple[int, float]]:
    """Samples stamped within ``(start, end]`` (a per-interval figure is stamped at its end)."""
    return [(ts, v) for ts, v in samples if w.start_ns < ts <= w.end_ns]


def rate_inside(samples: Sequence[tuple[int, float]], w: Window) -> list[tuple[int, float]]:
    """Rates whose whole interval lies in the window (the first one may straddle its start)."""
    step = _typical_step(samples)
    # a tenth of a step of slack: the recorder's ticks jitter by a few milliseconds
    return [(ts, v) for ts, v in samples if w.start_ns + 0.9 * step <= ts <= w.end_ns]


def _typical_step(samples: Sequence[tuple[int, float]]) -> float:
    if len(samples) < 2:
        return 0.0
    return float(np.median(np.diff([ts for ts, _ in samples])))


def _mean(samples: Sequence[tuple[int, float]]) -> float | None:
    return statistics.fmean(v for _, v in samples) if samples else None


def _median(samples: Sequence[tuple[int, float]]) -> float | None:
    return statistics.median(v for _, v in samples) if samples else None


def _r(x: float | None, digits: int = 2) -> float | None:
    return None if x is None else round(float(x), digits)


def _ms(ms: float) -> str:
    return format_duration(ms / 1e3)


# -- from a run in the store -------------------------------------------------------------------

def phase_windows(store: Store, run_id: int) -> dict[str, Window]:
    """The demo's phases, from the run's ``phase`` events (named in ``attrs["phase"]``)."""
    out = {}
    for ev in store.events(run_id):
        name = ev.attrs.get("phase")
        if ev.kind == "phase" and isinstance(name, str) and ev.end_ns is not None:
            out[name] = Window(name, ev.ts_ns, ev.end_ns)
    return out


def findings_from_store(store: Store, run_id: int, service_pid: int) -> Findings:
    """Read a demo run back and compute its findings."""
    phases = phase_windows(store, run_id)
    pid = {"pid": str(service_pid)}
    cpu = _one_series(store, run_id, "process.cpu.pct", pid)
    rss = _one_series(store, run_id, "process.rss_bytes", pid)
    p50 = _by_endpoint(store, run_id, "load.latency_ms", {"quantile": "0.5"})
    rps = _by_endpoint(store, run_id, "load.rps", {})
    conc = _by_endpoint(store, run_id, "load.connections", {})
    return Findings(
        cpu=cpu_finding(phases.get("normal"), phases.get("cpu"), cpu, p50, rps),
        lock=lock_finding(phases.get("lock"), cpu, p50, rps, conc),
        leak=leak_finding(phases.get("leak"), _before_leak(phases), rss, rps),
        thresholds=threshold_finding(store, run_id),
    )


def threshold_finding(store: Store, run_id: int) -> ThresholdFinding:
    """The thresholds of the run's load tests, in the order they were judged."""
    view = load_view(store, store.run(run_id))
    checks: list[ThresholdCheck] = []
    for group in view["groups"] if view is not None else []:
        endpoint = group["labels"].get("endpoint")
        checks.extend(ThresholdCheck(str(t.get("test") or ""), endpoint, str(t["threshold"]),
                                     bool(t["passed"]), t.get("actual"), str(t.get("unit", "")))
                      for t in group["thresholds"])
    return ThresholdFinding(tuple(checks))


def _before_leak(phases: Mapping[str, Window]) -> Window | None:
    """The RSS baseline: the CPU and lock phases, with the leak off and the service warm (the
    normal phase fills the bounded cache, so its RSS rises for a while by design)."""
    first, last = phases.get("cpu"), phases.get("lock")
    if first is None or last is None:
        return None
    return Window("before leak", first.start_ns, last.end_ns)


def _one_series(store: Store, run_id: int, name: str,
                labels: dict[str, str]) -> list[tuple[int, float]]:
    found = store.series(run_id, name=name, labels=labels)
    return [(int(t), float(v)) for t, v in store.samples(found[0].id)] if found else []


def _by_endpoint(store: Store, run_id: int, name: str,
                 labels: dict[str, str]) -> dict[str, list[tuple[int, float]]]:
    out = {}
    for s in store.series(run_id, name=name, labels=labels):
        endpoint = s.labels.get("endpoint")
        if endpoint:
            out[endpoint] = [(int(t), float(v)) for t, v in store.samples(s.id)]
    return out

"""Jaeger remote sampling: ``GET /api/sampling?service=NAME`` answers the strategy a remote
sampler (Jaeger's clients, the OTel SDKs' ``jaeger_remote`` sampler, the OTel Collector's
``jaegerremotesampling`` extension) applies.

Strategies come from a file in Jaeger's own format (``--sampling-strategies PATH``)::

    {"default_strategy": {"type": "probabilistic", "param": 0.1},
     "service_strategies": [
        {"service": "api", "type": "ratelimiting", "param": 5},
        {"service": "store", "type": "probabilistic", "param": 0.5,
         "operation_strategies": [{"operation": "GET /health", "type": "probabilistic",
                                   "param": 0.0}]}]}

Without a file every service samples everything (a lab wants every trace). The answer is the
JSON Jaeger writes (``SamplingStrategyResponseToJSON``): ``strategyType`` as its name,
``probabilisticSampling.samplingRate``, ``rateLimitingSampling.maxTracesPerSecond``, and
``operationSampling`` with per-operation probabilities.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perflab.errors import InvalidFile


@dataclass(frozen=True, slots=True)
class Strategy:
    type: str = "probabilistic"  # or "ratelimiting"
    param: float = 1.0
    operations: dict[str, float] = field(default_factory=dict)  # operation -> probability


@dataclass(frozen=True, slots=True)
class Strategies:
    default: Strategy = Strategy()
    services: dict[str, Strategy] = field(default_factory=dict)

    def for_service(self, service: str) -> dict[str, Any]:
        s = self.services.get(service, self.default)
        if s.type == "ratelimiting":
            return {"strategyType": "RATE_LIMITING",
                    "rateLimitingSampling": {"maxTracesPerSecond": int(s.param)}}
        out: dict[str, Any] = {"strategyType": "PROBABILISTIC",
                               "probabilisticSampling": {"samplingRate": s.param}}
        if s.operations:
            out["operationSampling"] = {
                "defaultSamplingProbability": s.param,
                "defaultLowerBoundTracesPerSecond": 0,
                "perOperationStrategies": [
                    {"operation": op, "probabilisticSampling": {"samplingRate": p}}
                    for op, p in sorted(s.operations.items())],
                "defaultUpperBoundTracesPerSecond": 0,
            }
        return out


def load_strategies(path: str | Path) -> Strategies:
    """Read a Jaeger strategies file; ``InvalidFile`` (exit 2) when it is not one."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidFile(f"cannot read it as JSON: {exc}", path=str(p),
                          hint="give a Jaeger sampling strategies file") from exc
    if not isinstance(doc, dict):
        raise InvalidFile("a strategies file is a JSON object", path=str(p))
    default = _strategy(doc.get("default_strategy", {}), str(p))
    services: dict[str, Strategy] = {}
    for item in doc.get("service_strategies") or []:
        if not isinstance(item, dict) or not isinstance(item.get("service"), str):
            raise InvalidFile('each service strategy needs a "service" name', path=str(p))
        services[item["service"]] = _strategy(item, str(p))
    return Strategies(default, services)


def _strategy(item: object, path: str) -> Strategy:
    if not isinstance(item, dict):
        raise InvalidFile("a strategy is a JSON object", path=path)
    kind = item.get("type", "probabilistic")
    param = item.get("param", 1.0)
    if kind not in ("probabilistic", "ratelimiting") or not isinstance(param, int | float) \
            or isinstance(param, bool) or not math.isfinite(param) or param < 0 \
            or (kind == "probabilistic" and param > 1):
        raise InvalidFile(f"invalid strategy {json.dumps(item)[:200]}", path=path,
                          hint='"type" is probabilistic (param 0 to 1) or ratelimiting '
                               "(param: traces per second)")
    ops: dict[str, float] = {}
    for op in item.get("operation_strategies") or []:
        inner = _strategy(op, path)
        if not isinstance(op.get("operation"), str) or inner.type != "probabilistic":
            raise InvalidFile("an operation strategy is probabilistic and names its operation",
                              path=path)
        ops[op["operation"]] = inner.param
    return Strategy(kind, float(param), ops)

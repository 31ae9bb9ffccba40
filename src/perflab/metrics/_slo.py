"""SLOs: a spec in, the Google SRE workbook's multi-window, multi-burn-rate rules out.

A spec file lists SLOs; each has a ``name``, a ``service``, an ``objective`` (percent), a
``window`` (30d) and an SLI, either events (``good`` and ``total`` PromQL, with ``{{window}}``
where the range goes) or a latency threshold on a histogram (``metric`` base name,
``threshold`` an ``le`` bound in the histogram's unit, ``selector`` labels)::

    slos:
      - name: checkout-availability
        service: checkout
        objective: 99.9
        window: 30d
        sli:
          events:
            good: sum(rate(http_requests_total{job="checkout",code!~"5.."}[{{window}}]))
            total: sum(rate(http_requests_total{job="checkout"}[{{window}}]))
      - name: checkout-latency
        service: checkout
        objective: 99
        sli:
          latency:
            metric: traces_span_metrics_duration_milliseconds
            threshold: 250
            selector: '{service_name="checkout"}'

``generate_rules`` writes recording rules ``slo:sli_error:ratio_rate<w>`` for 5m, 30m, 1h, 2h,
6h, 1d, 3d and the window, and two alerts: page when the 1 h and 5 m burn rates both pass
14.4x or the 6 h and 30 m ones pass 6x; ticket when the 1 d and 2 h ones pass 3x or the 3 d
and 6 h ones pass 1x.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from perflab.errors import InvalidFile, InvalidValue
from perflab.metrics._ast import PromQLError, parse
from perflab.metrics._config import load_yaml
from perflab.metrics._duration import format_duration_ms, parse_duration_ms
from perflab.metrics._engine import instant_query
from perflab.metrics._labels import LABEL_NAME
from perflab.metrics._values import Queryable

if TYPE_CHECKING:
    from perflab.metrics._contracts import SloStatusSlo


WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
# (severity, long window, short window, burn rate factor)
BURN_ALERTS = (("page", "1h", "5m", 14.4), ("page", "6h", "30m", 6.0),
               ("ticket", "1d", "2h", 3.0), ("ticket", "3d", "6h", 1.0))


@dataclass(frozen=True, slots=True)
class SLO:
    name: str
    service: str
    objective: float          # a fraction: 0.999
    window: str               # 30d
    good: str = ""            # events SLI, with {{window}}
    total: str = ""
    metric: str = ""          # latency SLI: histogram base name
    threshold: str = ""
    selector: str = ""
    labels: dict[str, str] = field(default_factory=dict)

    def error_ratio(self, window: str) -> str:
        if self.metric:
            sel = self.selector.strip() or "{}"
            inner = sel[1:-1].strip()
            le = f'le="{self.threshold}"' + (f", {inner}" if inner else "")
            good = f"sum(rate({self.metric}_bucket{{{le}}}[{window}]))"
            total = f"sum(rate({self.metric}_count{sel}[{window}]))"
        else:
            good = self.good.replace("{{window}}", window)
            total = self.total.replace("{{window}}", window)
        return f"1 - (({good}) / ({total}))"


def load_slo(path: str | Path) -> list[SLO]:
    doc = load_yaml(path)
    try:
        return slos_from_doc(doc)
    except InvalidValue as exc:
        raise InvalidFile(exc.message, path=str(path), hint=exc.hint) from None


def slos_from_doc(doc: Any) -> list[SLO]:
    if not isinstance(doc, dict) or not isinstance(doc.get("slos"), list):
        raise InvalidValue("expected a mapping with a list 'slos'")
    out = []
    names: set[str] = set()
    for i, raw in enumerate(doc["slos"]):
        where = f"slos[{i}]"
        if not isinstance(raw, dict):
            raise InvalidValue(f"{where}: expected a mapping")
        name = str(raw.get("name") or "")
        if not name or name in names:
            raise InvalidValue(f"{where}: a unique name is required")
        names.add(name)
        try:
            objective = float(raw.get("objective"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise InvalidValue(f"{where}: objective must be a percentage like 99.9") from None
        if not 0 < objective < 100:
            raise InvalidValue(f"{where}: objective must be between 0 and 100 (percent)")
        window = str(raw.get("window", "30d"))
        parse_duration_ms(window, what=f"{where}.window")
        sli = raw.get("sli")
        if not isinstance(sli, dict) or len(sli) != 1 or next(iter(sli)) not in (
                "events", "latency"):
            raise InvalidValue(f"{where}: sli must be one of 'events' or 'latency'")
        labels = {str(k): str(v) for k, v in (raw.get("labels") or {}).items()}
        for k in labels:
            if not LABEL_NAME.match(k):
                raise InvalidValue(f"{where}: invalid label name {k!r}")
        kind, body = next(iter(sli.items()))
        if not isinstance(body, dict):
            raise InvalidValue(f"{where}.sli.{kind} must be a mapping")
        if kind == "events":
            slo = SLO(name, str(raw.get("service", name)), objective / 100, window,
                      good=str(body.get("good", "")), total=str(body.get("total", "")),
                      labels=labels)
        else:
            threshold = body.get("threshold")
            if threshold is None or not body.get("metric"):
                raise InvalidValue(f"{where}.sli.latency needs a metric and a threshold")
            slo = SLO(name, str(raw.get("service", name)), objective / 100, window,
                      metric=str(body["metric"]), threshold=_le(threshold),
                      selector=str(body.get("selector", "")), labels=labels)
        for w in (*WINDOWS, window):
            try:
                parse(slo.error_ratio(w))
            except PromQLError as exc:
                raise InvalidValue(f"{where}: the SLI does not make a valid expression: "
                                   f"{exc.message}") from None
        out.append(slo)
    return out


def _le(value: Any) -> str:
    """A threshold as the ``le`` label spells it (Prometheus clients print 0.25, 1, +Inf)."""
    f = float(value)
    if math.isinf(f):
        return "+Inf"
    return str(int(f)) if f == int(f) and abs(f) < 1e15 else repr(f)


def generate_rules(slos: list[SLO]) -> str:
    groups = []
    for slo in slos:
        ids = {"slo": slo.name, "service": slo.service, **slo.labels}
        budget = 1 - slo.objective
        record = [{"record": f"slo:sli_error:ratio_rate{w}", "expr": slo.error_ratio(w),
                   "labels": dict(ids)} for w in dict.fromkeys((*WINDOWS, slo.window))]

        def sel(w: str, ids: dict[str, str] = ids) -> str:
            inner = ", ".join(f'{k}="{v}"' for k, v in ids.items())
            return f"slo:sli_error:ratio_rate{w}{{{inner}}}"

        alerts = []
        for severity in ("page", "ticket"):
            parts = [f"({sel(long)} > ({factor:g} * {budget:.10g})\n and {sel(short)} > "
                     f"({factor:g} * {budget:.10g}))"
                     for sev, long, short, factor in BURN_ALERTS if sev == severity]
            alerts.append({
                "alert": f"SLOErrorBudgetBurn{'Fast' if severity == 'page' else 'Slow'}",
                "expr": "\nor\n".join(parts),
                "labels": {**ids, "severity": severity},
                "annotations": {
                    "summary": f"{slo.service}: {slo.name} burns its error budget "
                               f"({slo.objective * 100:g}% over {slo.window})",
                    "description": "error ratio {{ $value | humanizePercentage }} of "
                                   f"{budget * 100:.4g}% allowed",
                }})
        groups.append({"name": f"slo-{slo.name}", "rules": record + alerts})
    return yaml.safe_dump({"groups": groups}, sort_keys=False, width=100)


def status(slo: SLO, queryable: Queryable, now_ms: int) -> SloStatusSlo:
    """Error budget left over the SLO's window and the burn rate of each window, now."""
    budget = 1 - slo.objective

    def ratio(window: str) -> float | None:
        try:
            res = instant_query(queryable, slo.error_ratio(window), now_ms)
        except PromQLError:
            return None
        values = [v for _, v in res.vector] if res.type == "vector" else [res.scalar]
        return values[0] if values and not math.isnan(values[0]) else None

    window_ratio = ratio(slo.window)
    return {"name": slo.name, "service": slo.service, "objective": slo.objective,
            "window": slo.window,
            "error_ratio": window_ratio,
            "budget_remaining": None if window_ratio is None else 1 - window_ratio / budget,
            "burn_rates": {w: (None if (r := ratio(w)) is None else r / budget)
                           for w in WINDOWS},
            "window_ms": parse_duration_ms(slo.window), "window_text":
                format_duration_ms(parse_duration_ms(slo.window))}

"""``perflab rules test``: promtool's rule unit-test files, run as ``promtool test rules``.

The file names ``rule_files``, an ``evaluation_interval`` (1m), a ``group_eval_order`` and
``tests``; each test loads ``input_series`` (Prometheus's series notation) at its
``interval``, evaluates every group at every evaluation interval from 0 to the last
``eval_time``, compares the *firing* alerts of each ``alert_rule_test`` (labels and
annotations) at its time, then each ``promql_expr_test``'s samples. The report has promtool's
words; the exit code is 0 when all pass, 1 when one fails.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perflab.errors import InvalidFile, InvalidValue
from perflab.metrics._alerting import Group
from perflab.metrics._ast import PromQLError
from perflab.metrics._config import expand_globs, load_yaml
from perflab.metrics._duration import format_duration_ms, parse_duration_ms
from perflab.metrics._engine import QueryOptions, instant_query
from perflab.metrics._labels import Labels, from_dict
from perflab.metrics._rulefile import RuleFileError, load_rule_file
from perflab.metrics._seriesdesc import parse_metric, parse_series
from perflab.metrics._values import MemoryQueryable

_FILE_KEYS = {"rule_files", "evaluation_interval", "group_eval_order", "tests"}
_TEST_KEYS = {"interval", "input_series", "alert_rule_test", "promql_expr_test",
              "external_labels", "external_url", "name"}


@dataclass(slots=True)
class FileResult:
    path: str
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _labels_text(labels: Labels) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in labels) + "}"


def _duration(value: Any, what: str) -> int:
    if value is None:
        return 0
    try:
        return parse_duration_ms(str(value), what=what)
    except InvalidValue as exc:
        raise InvalidValue(exc.message) from None


def run_test_file(path: str | Path) -> FileResult:
    result = FileResult(str(path))
    try:
        doc = load_yaml(path)
        _run(doc, Path(path), result)
    except RuleFileError as exc:
        result.errors.extend(exc.problems)
    except (InvalidFile, InvalidValue, PromQLError) as exc:
        result.errors.append(exc.message)
    return result


def _mapping(value: Any, where: str, keys: set[str]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidValue(f"{where}: expected a mapping")
    unknown = set(value) - keys
    if unknown:
        raise InvalidValue(f"{where}: field {min(map(str, unknown))} not found")
    return value


def _run(doc: Any, path: Path, result: FileResult) -> None:
    top = _mapping(doc, "the test file", _FILE_KEYS)
    base = path.parent
    patterns = [str(p if Path(p).is_absolute() else base / p)
                for p in (top.get("rule_files") or [])]
    files = [f for f in expand_globs(tuple(patterns)) if Path(f).exists()]
    eval_ms = _duration(top.get("evaluation_interval"), "evaluation_interval") or 60_000
    order_list = [str(g) for g in (top.get("group_eval_order") or [])]
    if len(set(order_list)) != len(order_list):
        raise InvalidValue("group name repeated in evaluation order")
    order = {name: i for i, name in enumerate(order_list)}
    specs = [g for f in files for g in load_rule_file(f)]
    for test in top.get("tests") or []:
        result.errors.extend(_test(_mapping(test, "a test", _TEST_KEYS), specs, eval_ms,
                                   order))


def _test(test: dict[str, Any], specs: list[Any], eval_ms: int,
          order: dict[str, int]) -> list[str]:
    interval = _duration(test.get("interval"), "interval") or eval_ms
    store = MemoryQueryable()
    for item in test.get("input_series") or []:
        if not isinstance(item, dict):
            raise InvalidValue("input_series: expected series and values")
        desc = parse_series(f"{item.get('series', '')} {item.get('values', '')}")
        for k, value in enumerate(desc.values):
            if value is not None:
                store.add(desc.labels, k * interval, value)
    groups = [Group(s, interval) for s in specs]
    groups.sort(key=lambda g: order.get(g.spec.name, 0))
    external = {str(k): str(v) for k, v in (test.get("external_labels") or {}).items()}
    external_url = str(test.get("external_url") or "")
    name = test.get("name")
    prefix = f"    name: {name},\n" if name else ""
    alert_tests = test.get("alert_rule_test") or []
    expr_tests = test.get("promql_expr_test") or []
    times = [_duration(a.get("eval_time"), "eval_time") for a in alert_tests] + \
            [_duration(p.get("eval_time"), "eval_time") for p in expr_tests]
    for a in alert_tests:
        if not a.get("alertname"):
            return [(f"an item under alert_rule_test misses required attribute alertname at "
                    f"eval_time {format_duration_ms(_duration(a.get('eval_time'), 'x'))}")]
    max_t = max(times, default=0)
    pending = sorted(alert_tests, key=lambda a: _duration(a.get("eval_time"), "eval_time"))
    errors: list[str] = []
    opts = QueryOptions(subquery_step_ms=eval_ms)

    def write(rows: list[tuple[Labels, int, float]]) -> None:
        for labels, ts, value in rows:
            store.add(labels, ts, value)

    ts = 0
    while ts <= max_t:
        eval_errors: list[str] = []
        for g in groups:
            g.eval(ts, store, write, external_labels=external, external_url=external_url,
                   options=opts)
            eval_errors.extend(f"    rule: {r.spec.name}, time: {format_duration_ms(ts)}, "
                               f"err: {r.last_error}" for r in g.rules if r.health == "err")
        if eval_errors:
            return errors + eval_errors
        while pending and ts <= _duration(pending[0].get("eval_time"), "t") < ts + eval_ms:
            case = pending.pop(0)
            errors.extend(_check_alerts(case, groups, prefix))
        ts += eval_ms
    for case in expr_tests:
        errors.extend(_check_expr(case, store, opts))
    return errors


def _check_alerts(case: dict[str, Any], groups: list[Group], prefix: str) -> list[str]:
    name = str(case["alertname"])
    got: list[tuple[Labels, Labels]] = []
    for g in groups:
        for r in g.rules:
            if r.spec.kind == "alert" and r.spec.name == name:
                got.extend((a.labels, from_dict(a.annotations)) for a in r.active.values()
                           if a.state == "firing" and not a.resolved_at)
    expected = []
    for exp in case.get("exp_alerts") or []:
        labels = {str(k): str(v) for k, v in (exp.get("exp_labels") or {}).items()}
        labels["alertname"] = name
        annotations = {str(k): str(v) for k, v in (exp.get("exp_annotations") or {}).items()}
        expected.append((from_dict(labels), from_dict(annotations)))
    got.sort()
    expected.sort()
    if got == expected:
        return []

    def show(items: list[tuple[Labels, Labels]]) -> str:
        if not items:
            return "[]"
        parts = [f"{i}:\n              Labels:{_labels_text(lab)}\n              "
                 f"Annotations:{_labels_text(ann)}" for i, (lab, ann) in enumerate(items)]
        return "[\n            " + ",\n            ".join(parts) + "\n            ]"

    t = format_duration_ms(_duration(case.get("eval_time"), "eval_time"))
    return [(f"{prefix}    alertname: {name}, time: {t}, \n        exp:{show(expected)}, \n"
            f"        got:{show(got)}")]


def _check_expr(case: dict[str, Any], store: MemoryQueryable,
                opts: QueryOptions) -> list[str]:
    expr = str(case.get("expr", ""))
    t_ms = _duration(case.get("eval_time"), "eval_time")
    t = format_duration_ms(t_ms)
    try:
        result = instant_query(store, expr, t_ms, opts)
    except PromQLError as exc:
        return [f"    expr: {_go_quote(expr)}, time: {t}, err: {exc.message}"]
    got: list[tuple[Labels, float]]
    if result.type == "scalar":
        got = [((), result.scalar)]
    elif result.type == "vector":
        got = list(result.vector)
    else:
        return [(f"    expr: {_go_quote(expr)}, time: {t}, err: rule result is not a vector "
                "or scalar")]
    expected: list[tuple[Labels, float]] = []
    for s in case.get("exp_samples") or []:
        try:
            labels, rest = parse_metric(str(s.get("labels", "")))
        except PromQLError as exc:
            if str(s.get("labels", "")).strip() in ("", "{}"):
                labels, rest = (), ""
            else:
                return [(f'    expr: "{expr}", time: {t}, err: labels '
                        f'"{s.get("labels")}": {exc.message}')]
        if rest.strip():
            return [(f'    expr: "{expr}", time: {t}, err: labels "{s.get("labels")}": '
                    "unexpected text after the labels")]
        expected.append((labels, float(s.get("value", 0))))
    got.sort(key=lambda x: x[0])
    expected.sort(key=lambda x: x[0])
    same = len(got) == len(expected) and all(
        gl == el and (gv == ev or (math.isnan(gv) and math.isnan(ev)))
        for (gl, gv), (el, ev) in zip(got, expected, strict=True))
    if same:
        return []

    def show(items: list[tuple[Labels, float]]) -> str:
        return ", ".join(f"{_labels_text(lab)} {_e(v)}" for lab, v in items)

    return [(f"    expr: {_go_quote(expr)}, time: {t},\n        exp: {show(expected)}\n"
            f"        got: {show(got)}")]


def _go_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _e(value: float) -> str:
    """``strconv.FormatFloat(value, 'E', -1, 64)``: ``2E+00``, ``1.5E-03``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0E+00"
    from decimal import Decimal  # noqa: PLC0415

    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    x = len(text) + exponent - 1
    mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
    return f"{'-' if sign else ''}{mantissa}E{'-' if x < 0 else '+'}{abs(x):02d}"

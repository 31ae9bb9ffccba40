"""Every schema in docs/schemas/ has a TypedDict (a package's ``_contracts.py``) that says the
same thing: the same property names, the same required keys, compatible types, all the way
down. The functions that build the documents are annotated with these TypedDicts, so mypy
checks what they build; this test keeps the TypedDicts and the schemas from drifting apart."""

import types
import typing
from typing import Any, Literal, NotRequired, TypedDict, Union, get_args, get_origin

import pytest
from tests._schemas import load_schema, schema_names

from perflab.bench import _contracts as bench
from perflab.chaos import _contracts as chaos
from perflab.chaos.faults import _contracts as faults
from perflab.cli import _contracts as cli
from perflab.collect import _contracts as collect
from perflab.debug import _contracts as debug
from perflab.demo import _contracts as demo
from perflab.ebpf import _contracts as ebpf
from perflab.incident import _contracts as incident
from perflab.load import _contracts as load
from perflab.logs import _contracts as logs
from perflab.metrics import _contracts as metrics
from perflab.netcap import _contracts as netcap
from perflab.profile import _contracts as profile
from perflab.report import _contracts as report
from perflab.store import _contracts as store
from perflab.top import _contracts as top
from perflab.trace import _contracts as trace
from perflab.web import _contracts as web

CONTRACTS: dict[str, Any] = {
    "alerts": metrics.AlertsDoc,
    "api-batch": web.ApiBatchDoc,
    "api-benchmark": web.ApiBenchmarkDoc,
    "api-benchmarks": web.ApiBenchmarksDoc,
    "api-error": web.ApiErrorDoc,
    "api-events": web.ApiEventsDoc,
    "api-live": web.ApiLiveDoc,
    "api-load": load.ApiLoadDoc,
    "api-profile": web.ApiProfileDoc,
    "api-profile_diff": web.ApiProfileDiffDoc,
    "api-profile_slices": web.ApiProfileSlicesDoc,
    "api-run": web.ApiRunDoc,
    "api-runs": web.ApiRunsDoc,
    "api-samples": web.ApiSamplesDoc,
    "api-summary": web.ApiSummaryDoc,
    "api-trace": trace.ApiTraceDoc,
    "api-trace_diff": trace.ApiTraceDiffDoc,
    "api-trace_search": trace.ApiTraceSearchDoc,
    "api-trace_services": trace.ApiTraceServicesDoc,
    "api-trace_stats": trace.ApiTraceStatsDoc,
    "bench-compare": bench.BenchCompareDoc,
    "bench-disk": bench.BenchDiskDoc,
    "bench-net": netcap.BenchNetDoc,
    "bench-history": bench.BenchHistoryDoc,
    "bench-record": bench.BenchRecordDoc,
    "bench-regressions": bench.BenchRegressionsDoc,
    "bench-results": bench.BenchResultsDoc,
    "bench-system": bench.BenchSystemDoc,
    "chaos-fault": faults.FaultDoc,
    "chaos-monkey": faults.MonkeyDoc,
    "chaos-net": faults.NetFaultDoc,
    "chaos-netns": faults.NetnsListDoc,
    "chaos-rollback": faults.RollbackDoc,
    "chaos-journal": chaos.JournalDoc,
    "chaos-report": chaos.ChaosReportDoc,
    "capture": netcap.CaptureDoc,
    "capture-summary": netcap.CaptureSummaryDoc,
    "demo": demo.DemoDoc,
    "api-log_lines": logs.LogLinesDoc,
    "api-log_volume": logs.LogVolumeDoc,
    "api-trace_logs": logs.TraceLogsDoc,
    "logs-query": logs.LogsQueryDoc,
    "loki-list": logs.LokiListDoc,
    "loki-query": logs.LokiQueryDoc,
    "loki-tail": logs.LokiTailDoc,
    "ebpf-events": ebpf.EbpfEventsDoc,
    "ebpf-hist": ebpf.EbpfHistDoc,
    "ebpf-libcalls": ebpf.EbpfLibcallsDoc,
    "ebpf-offcpu": ebpf.EbpfOffcpuDoc,
    "ebpf-syscalls": ebpf.EbpfSyscallsDoc,
    "event-deploy": incident.EventDeployDoc,
    "goroutines": debug.GoroutinesReport,
    "gotrace": debug.GotraceReport,
    "incident": incident.IncidentDoc,
    "incident-bundle": incident.IncidentBundleDoc,
    "incident-close": incident.IncidentCloseDoc,
    "incident-ls": incident.IncidentLsDoc,
    "incident-note": incident.IncidentNoteDoc,
    "incident-runbook": incident.IncidentRunbookDoc,
    "jaeger-dependencies": trace.JaegerDependenciesDoc,
    "jaeger-services": trace.JaegerServicesDoc,
    "jaeger-traces": trace.JaegerTracesDoc,
    "leak": debug.LeakReport,
    "load": load.LoadDoc,
    "load-capacity": load.LoadCapacityDoc,
    "load-compare": load.LoadCompareDoc,
    "load-coverage": load.LoadCoverageDoc,
    "load-import": load.LoadImportDoc,
    "memcheck": debug.MemcheckReport,
    "metrics-import": metrics.MetricsImportDoc,
    "net": collect.NetDoc,
    "proc": collect.ProcDoc,
    "profile-capture": profile.ProfileCaptureDoc,
    "profile-continuous": profile.ProfileContinuousDoc,
    "profile-diff": profile.ProfileDiffDoc,
    "profile-export": profile.ProfileExportDoc,
    "profile-flame": profile.ProfileFlameDoc,
    "profile-pprof-peek": profile.ProfilePprofPeekDoc,
    "profile-pprof-top": profile.ProfilePprofTopDoc,
    "promql": metrics.PromqlDoc,
    "query": store.QueryDoc,
    "race": debug.RaceReportDoc,
    "record": collect.RecordDoc,
    "report": report.ReportDoc,
    "rules-check": metrics.RulesCheckDoc,
    "rules-test": metrics.RulesTestDoc,
    "run": cli.RunDoc,
    "runs": store.RunsDoc,
    "scrape": metrics.ScrapeDoc,
    "show": store.ShowDoc,
    "silence": metrics.SilenceDoc,
    "silences": metrics.SilencesDoc,
    "slo-status": metrics.SloStatusDoc,
    "stacks": debug.StacksReportDoc,
    "store-check": store.StoreCheckDoc,
    "top": top.TopDoc,
    "toxiproxy-error": chaos.ApiErrorDoc,
    "toxiproxy-populate": chaos.PopulateDoc,
    "toxiproxy-proxies": chaos.ProxiesDoc,
    "toxiproxy-proxy": chaos.ProxyDoc,
    "toxiproxy-toxic": chaos.ToxicDoc,
    "toxiproxy-toxics": chaos.ToxicsDoc,
    "toxiproxy-version": chaos.VersionDoc,
    "trace-coverage": trace.TraceCoverageDoc,
    "trace-critical-path": trace.TraceCriticalPathDoc,
    "trace-diff": trace.TraceDiffDoc,
    "trace-ls": trace.TraceLsDoc,
    "trace-show": trace.TraceShowDoc,
}

SCALARS: dict[str, Any] = {"string": str, "integer": int, "number": float, "boolean": bool,
                           "null": type(None)}


class Mismatch(AssertionError):
    """A TypedDict says something its schema does not (the message names where)."""


def _resolve(node: dict[str, Any], here: str) -> tuple[dict[str, Any], str]:
    """Follow ``$ref`` (within a schema or to another file) and merge ``allOf``."""
    while "$ref" in node:
        where, _, pointer = node["$ref"].partition("#")
        here = where.removesuffix(".schema.json") or here
        node = load_schema(here)
        for part in filter(None, pointer.split("/")):
            node = node[part]
    if "allOf" in node:
        merged = {k: v for k, v in node.items() if k != "allOf"}
        props, required = dict(merged.get("properties", {})), list(merged.get("required", []))
        for member in node["allOf"]:
            part, _ = _resolve(member, here)
            props |= {k: v for k, v in part.get("properties", {}).items() if k not in props}
            required += [k for k in part.get("required", []) if k not in required]
        node = {"type": "object", **merged, "properties": props, "required": required}
    return node, here


def _alternatives(node: dict[str, Any], here: str) -> list[tuple[dict[str, Any], str]]:
    """The schema's alternatives: its ``oneOf``/``anyOf`` members, ``null`` apart from an
    enum's other values, one per listed ``type``."""
    node, here = _resolve(node, here)
    for key in ("oneOf", "anyOf"):
        if key in node:
            return [alt for member in node[key] for alt in _alternatives(member, here)]
    if "enum" in node and None in node["enum"] and node["enum"] != [None]:
        values = [v for v in node["enum"] if v is not None]
        return [({**node, "enum": values}, here), ({"type": "null"}, here)]
    if isinstance(node.get("type"), list) and "enum" not in node:
        return [({**node, "type": t}, here) for t in node["type"]]
    return [(node, here)]


def _members(tp: Any) -> list[Any]:
    if get_origin(tp) in (Union, types.UnionType):
        return list(get_args(tp))
    return [tp]


def check(node: dict[str, Any], tp: Any, where: str, here: str) -> None:
    """Raise ``Mismatch`` unless the type ``tp`` says what the schema ``node`` says."""
    alternatives = _alternatives(node, here)
    members = _members(tp)
    if len(alternatives) == 1 and len(members) == 1:
        (alt, alt_here), = alternatives
        _check_one(alt, members[0], where, alt_here)
        return
    unused = list(members)
    for alt, alt_here in alternatives:
        fits = [m for m in unused if _fits(alt, m, where, alt_here)]
        if not fits:
            raise Mismatch(f"{where}: no member of {tp} fits the schema's {alt}")
        unused.remove(fits[0])
    if unused:
        raise Mismatch(f"{where}: {unused} in {tp} is no alternative of the schema")


def _fits(node: dict[str, Any], tp: Any, where: str, here: str) -> bool:
    try:
        _check_one(node, tp, where, here)
    except Mismatch:
        return False
    return True


def _check_one(node: dict[str, Any], tp: Any, where: str, here: str) -> None:
    if "const" in node or "enum" in node:
        want = [node["const"]] if "const" in node else node["enum"]
        if get_origin(tp) is not Literal or sorted(map(repr, get_args(tp))) != sorted(
                map(repr, want)):
            raise Mismatch(f"{where}: the schema allows {want}, the type is {tp}")
        return
    kind = node.get("type")
    if kind is None and "properties" in node:
        kind = "object"
    if kind is None and not {"items", "prefixItems"}.isdisjoint(node):
        kind = "array"
    if kind is None:
        if tp is not Any:
            raise Mismatch(f"{where}: the schema allows any value, the type is {tp}")
        return
    if kind in SCALARS:
        if tp is not SCALARS[kind]:
            raise Mismatch(f"{where}: the schema says {kind}, the type is {tp}")
        return
    if kind == "array":
        _check_array(node, tp, where, here)
    elif kind == "object":
        _check_object(node, tp, where, here)
    else:
        raise Mismatch(f"{where}: the schema's type {kind!r} is not one this test knows")


def _check_array(node: dict[str, Any], tp: Any, where: str, here: str) -> None:
    if "prefixItems" in node:
        args = get_args(tp)
        if get_origin(tp) is not tuple or len(args) != len(node["prefixItems"]):
            raise Mismatch(f"{where}: the schema says a {len(node['prefixItems'])}-tuple, "
                           f"the type is {tp}")
        for i, (item, arg) in enumerate(zip(node["prefixItems"], args, strict=True)):
            check(item, arg, f"{where}[{i}]", here)
        return
    if get_origin(tp) is not list:
        raise Mismatch(f"{where}: the schema says array, the type is {tp}")
    (item_tp,) = get_args(tp)
    check(node.get("items", {}), item_tp, f"{where}[]", here)


def _check_object(node: dict[str, Any], tp: Any, where: str, here: str) -> None:
    if "properties" in node:
        if not typing.is_typeddict(tp):
            raise Mismatch(f"{where}: the schema lists properties, the type is {tp}")
        hints = typing.get_type_hints(tp)
        if set(hints) != set(node["properties"]):
            raise Mismatch(f"{where}: keys differ: only in {tp.__name__}: "
                           f"{sorted(set(hints) - set(node['properties']))}, only in the "
                           f"schema: {sorted(set(node['properties']) - set(hints))}")
        if set(tp.__required_keys__) != set(node.get("required", [])):
            raise Mismatch(f"{where}: required keys differ: {tp.__name__} requires "
                           f"{sorted(tp.__required_keys__)}, the schema "
                           f"{sorted(node.get('required', []))}")
        for key, sub in node["properties"].items():
            check(sub, hints[key], f"{where}.{key}", here)
        return
    free = {"additionalProperties", "patternProperties"}.isdisjoint(node)
    if free and typing.is_typeddict(tp):
        return  # the schema leaves the object open; the code may say more (run: RunJson)
    if get_origin(tp) is not dict or get_args(tp)[0] is not str:
        raise Mismatch(f"{where}: the schema says a JSON object, the type is {tp}")
    values = node.get("additionalProperties")
    patterns = list(node.get("patternProperties", {}).values())
    if isinstance(values, dict):
        patterns.append(values)
    for value in patterns:
        check(value, get_args(tp)[1], f"{where}{{}}", here)
    if not patterns and get_args(tp)[1] is not Any:
        raise Mismatch(f"{where}: the schema allows any values, the type is {tp}")


def test_every_schema_has_a_contract():
    """A new schema cannot come without its TypedDict (and a removed one takes its entry)."""
    assert sorted(CONTRACTS) == schema_names()


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_contract_says_what_the_schema_says(name):
    """Same property names, the same required keys, compatible types, recursively."""
    check(load_schema(name), CONTRACTS[name], name, name)


class _Point(TypedDict):
    ts_ns: int
    value: NotRequired[float | None]


class _WrongRequired(TypedDict):
    ts_ns: int
    value: float | None


class _WrongType(TypedDict):
    ts_ns: str
    value: NotRequired[float | None]


class _ExtraKey(TypedDict):
    ts_ns: int
    value: NotRequired[float | None]
    unit: NotRequired[str]


POINT = {"type": "object", "required": ["ts_ns"],
         "properties": {"ts_ns": {"type": "integer"}, "value": {"type": ["number", "null"]}}}


def test_the_check_accepts_an_equal_contract():
    check(POINT, _Point, "point", "runs")
    check({"type": "array", "items": POINT}, list[_Point], "points", "runs")
    check({"oneOf": [POINT, {"type": "null"}]}, _Point | None, "point", "runs")
    check({"enum": ["a", "b", None]}, Literal["b", "a"] | None, "letter", "runs")


@pytest.mark.parametrize(("tp", "says"), [
    (_WrongRequired, "required keys differ"),
    (_WrongType, "point.ts_ns: the schema says integer"),
    (_ExtraKey, "only in _ExtraKey: ['unit']"),
    (dict[str, Any], "the schema lists properties"),
    (_Point | None, "is no alternative of the schema"),
])
def test_the_check_names_what_differs(tp, says):
    with pytest.raises(Mismatch, match=r".*") as caught:
        check(POINT, tp, "point", "runs")
    assert says in str(caught.value)


def test_an_open_object_may_be_said_more_precisely():
    check({"type": "object"}, _Point, "meta", "runs")
    check({"type": "object"}, dict[str, Any], "meta", "runs")
    with pytest.raises(Mismatch, match="any values"):
        check({"type": "object"}, dict[str, int], "meta", "runs")


def test_the_check_tells_an_enum_from_its_values():
    with pytest.raises(Mismatch, match="allows"):
        check({"enum": ["a", "b"]}, Literal["a"], "letter", "runs")
    with pytest.raises(Mismatch, match="2-tuple"):
        check({"type": "array", "prefixItems": [{"type": "integer"}, {"type": "number"}]},
              list[float], "pair", "runs")

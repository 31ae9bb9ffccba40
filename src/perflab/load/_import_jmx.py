"""JMeter test plans (``.jmx``, as JMeter 5.x saves them) as perflab flows.

A plan is a tree: each element is followed by a ``hashTree`` sibling holding its children.
What maps, and how (docs/load.md "Importing traffic"):

- ``ThreadGroup``: a closed scenario with ``num_threads`` users; its loops or its duration
  (``ThreadGroup.scheduler``) become the run's ``-n`` or ``-d``;
- ``HTTPSamplerProxy``: a request (``HTTPSampler.domain``, ``port``, ``protocol``, ``path``,
  ``method``; ``Arguments`` as the query, a form body or, with ``postBodyRaw``, the body);
  ``ConfigTestElement`` (HTTP Request Defaults) fills what samplers leave empty;
- ``CSVDataSet``: a ``csv_feeder`` whose row fills ``${column}`` in paths and bodies;
- ``ResponseAssertion``: checks on the status, the body or the headers (equals, contains,
  matches, substring, not, or);
- ``ConstantTimer`` / ``UniformRandomTimer``: a pause before each request in their scope;
- ``HeaderManager``: ``Content-Type`` and ``Accept`` (other headers are listed: tokens and
  cookies are not written into a file);
- ``Arguments`` (User Defined Variables) and ``${__P(name,default)}``: substituted;
- ``GenericController``, ``TransactionController``, ``LoopController`` (repeated inline):
  their requests in order.

Everything else (listeners, extractors, other timers and controllers, setUp/tearDown groups,
ramp-up, disabled elements) is returned as ``Unmapped`` with its place in the tree and why.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # DTDs are refused before parsing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from perflab.errors import InvalidFile
from perflab.load._import_model import (
    Check,
    Feed,
    Flow,
    Observed,
    Step,
    Traffic,
    Unmapped,
    endpoint_key,
)

if TYPE_CHECKING:
    from pathlib import Path

MAX_JMX = 64 * 1024 * 1024  # bytes of a plan read
MAX_INLINE_LOOPS = 100  # a LoopController repeated inline at most this many times
_KEPT = ("content-type", "accept")
_PROPERTY = re.compile(r"\$\{__P\((\w+),([^)]*)\)\}")
_VARIABLE = re.compile(r"\$\{(\w+)\}")
# ResponseAssertion.test_type bits (org.apache.jmeter.assertions.ResponseAssertion)
_MATCH, _CONTAINS, _NOT, _EQUALS, _SUBSTRING, _OR = 1, 2, 4, 8, 16, 32
_FIELDS = {"Assertion.response_code": "str(r.status)", "Assertion.response_data": "r.text",
           "Assertion.response_headers":
               '"\\n".join(f"{k}: {v}" for k, v in r.headers.items())'}
_LISTENERS = ("ResultCollector", "Summariser", "BackendListener")
_CONTAINERS = ("GenericController", "TransactionController", "LoopController")


@dataclass(slots=True)
class _Scope:
    """What applies to the samplers below a point of the tree."""

    timers: list[tuple[float, float]] = field(default_factory=list)
    assertions: list[Check] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)
    defaults: dict[str, str] = field(default_factory=dict)
    feeds: list[tuple[Feed, list[str]]] = field(default_factory=list)

    def inner(self) -> _Scope:
        return _Scope(list(self.timers), list(self.assertions), list(self.headers),
                      dict(self.defaults), list(self.feeds))


@dataclass(slots=True)
class _Reader:
    path: str
    traffic: Traffic
    variables: dict[str, str] = field(default_factory=dict)
    dropped_headers: set[str] = field(default_factory=set)
    bases: dict[str, int] = field(default_factory=dict)
    feeds: dict[str, Feed] = field(default_factory=dict)
    durations: list[tuple[str, float]] = field(default_factory=list)  # (group, seconds)
    counts: list[tuple[str, int]] = field(default_factory=list)  # (group, requests)

    def unmapped(self, where: str, element: str, reason: str) -> None:
        self.traffic.unmapped.append(Unmapped(where, element, reason))


def read_jmx(path: Path) -> Traffic:
    """The flows of a JMeter plan, and every element that does not map."""
    try:
        data = path.read_bytes()[:MAX_JMX + 1]
    except OSError as exc:
        raise InvalidFile(f"cannot read: {exc.strerror}", path=str(path)) from None
    if len(data) > MAX_JMX:
        raise InvalidFile(f"larger than {MAX_JMX // 2**20} MiB", path=str(path))
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise InvalidFile("has a DOCTYPE or entities (JMeter never writes them)",
                          path=str(path), hint="give a plan as JMeter saves it")
    try:
        root = ET.fromstring(data)  # noqa: S314  # no DTD, hence no entity expansion
    except ET.ParseError as exc:
        raise InvalidFile(f"not XML: {exc}", path=str(path),
                          hint="give a .jmx test plan as JMeter saves it") from None
    if root.tag != "jmeterTestPlan":
        raise InvalidFile(f"the root element is <{root.tag[:40]}>, not <jmeterTestPlan>",
                          path=str(path), hint="give a .jmx test plan as JMeter saves it")
    version = root.get("jmeter", "?")
    traffic = Traffic("jmx", str(path), f"JMeter {version} plan")
    reader = _Reader(str(path), traffic)
    top = root.find("hashTree")
    if top is not None:
        _walk(reader, top, _Scope(), None, "plan")
    _bound_run(reader)
    if reader.dropped_headers:
        reader.unmapped("HeaderManager", "headers", "not written into the scenario (only "
                        "Content-Type and Accept are): " + ", ".join(sorted(
                            reader.dropped_headers)))
    if reader.bases:
        traffic.base_url = max(reader.bases.items(), key=lambda kv: kv[1])[0]
        for base in reader.bases:
            if base != traffic.base_url:
                reader.unmapped("HTTPSamplerProxy", base, f"another origin than "
                                f"{traffic.base_url}: its requests go to the scenario's")
    if not traffic.flows:
        raise InvalidFile("the plan has no ThreadGroup with HTTP requests", path=str(path),
                          hint="perflab imports ThreadGroups of HTTPSamplerProxy elements")
    return traffic


def _pairs(tree: ET.Element) -> list[tuple[ET.Element, ET.Element | None]]:
    """(element, its hashTree) for each child element of a hashTree."""
    kids = list(tree)
    out = []
    for i, el in enumerate(kids):
        if el.tag == "hashTree":
            continue
        nxt = kids[i + 1] if i + 1 < len(kids) and kids[i + 1].tag == "hashTree" else None
        out.append((el, nxt))
    return out


def _prop(el: ET.Element, name: str) -> str | None:
    for child in el:
        if child.get("name") == name and child.tag.endswith("Prop"):
            return (child.text or "").strip()
    return None


def _element_prop(el: ET.Element, name: str) -> ET.Element | None:
    for child in el:
        if child.tag == "elementProp" and child.get("name") == name:
            return child
    return None


def _label(el: ET.Element) -> str:
    return f"{el.tag} {el.get('testname', '')!r}"


def _walk(r: _Reader, tree: ET.Element, scope: _Scope, flow: list[Step] | None,
          where: str) -> None:
    """Read one hashTree: first what applies to its whole scope, then its elements."""
    scope = scope.inner()
    pairs = _pairs(tree)
    for el, _ in pairs:  # config, timers and assertions apply to every sampler in scope
        if el.get("enabled") != "false":
            _scoped(r, el, scope, where)
    for el, sub in pairs:
        here = f"{where} > {_label(el)}"
        if el.get("enabled") == "false":
            r.unmapped(here, el.tag, "disabled in the plan (JMeter skips it too)")
            continue
        if el.tag == "TestPlan":
            _test_plan(r, el)
            if sub is not None:
                _walk(r, sub, scope, flow, here)
        elif el.tag == "ThreadGroup":
            _thread_group(r, el, sub, scope, here)
        elif el.tag == "HTTPSamplerProxy":
            if flow is None:
                r.unmapped(here, el.tag, "outside any ThreadGroup: JMeter never runs it")
            else:
                flow.append(_sampler(r, el, sub, scope, here))
        elif el.tag in _CONTAINERS and sub is not None:
            _container(r, el, sub, scope, flow=flow, where=here)
        elif el.tag in ("ConfigTestElement", "ConstantTimer", "UniformRandomTimer",
                        "ResponseAssertion", "HeaderManager", "CSVDataSet", "Arguments"):
            continue  # read above, for the whole scope
        elif el.tag in _LISTENERS:
            r.unmapped(here, el.tag, "a listener: perflab stores every result of the run "
                                     "itself")
        else:
            r.unmapped(here, el.tag, _why_not(el.tag))


def _why_not(tag: str) -> str:
    if tag.endswith("ThreadGroup"):
        return "only plain ThreadGroups map (setUp, tearDown and plugin groups do not)"
    if tag.endswith("Controller"):
        return "a logic controller perflab does not evaluate: its requests are not imported"
    if tag.endswith("Timer"):
        return "only ConstantTimer and UniformRandomTimer map"
    if tag.endswith(("PostProcessor", "Extractor", "PreProcessor")):
        return "values taken from responses need Python in the scenario (docs/load.md)"
    if tag.endswith("Sampler"):
        return "only HTTP samplers (HTTPSamplerProxy) map"
    return "no perflab equivalent"


def _test_plan(r: _Reader, el: ET.Element) -> None:
    udv = _element_prop(el, "TestPlan.user_defined_variables")
    if udv is not None:
        r.variables.update(_arguments(r, udv))


def _arguments(r: _Reader, el: ET.Element) -> list[tuple[str, str]]:
    coll = next((c for c in el if c.tag == "collectionProp"), None)
    return [(_sub(r, _prop(arg, "Argument.name") or ""),
             _sub(r, _prop(arg, "Argument.value") or ""))
            for arg in (coll if coll is not None else ())]


def _sub(r: _Reader, text: str) -> str:
    """User Defined Variables and properties' defaults substituted; ${column} of a CSV data
    set is left for the scenario to fill."""
    text = _PROPERTY.sub(lambda m: m[2], text)
    return _VARIABLE.sub(lambda m: r.variables.get(m[1], m[0]), text)


def _scoped(r: _Reader, el: ET.Element, scope: _Scope, where: str) -> None:
    here = f"{where} > {_label(el)}"
    if el.tag == "Arguments":
        r.variables.update(_arguments(r, el))
    elif el.tag == "ConfigTestElement":  # HTTP Request Defaults
        for key in ("domain", "port", "protocol", "path"):
            value = _prop(el, f"HTTPSampler.{key}")
            if value:
                scope.defaults[key] = _sub(r, value)
    elif el.tag == "ConstantTimer":
        delay = _number(_prop(el, "ConstantTimer.delay"))
        scope.timers.append((delay / 1000, delay / 1000))
    elif el.tag == "UniformRandomTimer":
        delay = _number(_prop(el, "ConstantTimer.delay"))
        spread = _number(_prop(el, "RandomTimer.range"))
        scope.timers.append((delay / 1000, (delay + spread) / 1000))
    elif el.tag == "ResponseAssertion":
        check = _assertion(r, el, here)
        if check is not None:
            scope.assertions.append(check)
    elif el.tag == "HeaderManager":
        _headers(r, el, scope)
    elif el.tag == "CSVDataSet":
        _csv_data_set(r, el, scope, here)


def _headers(r: _Reader, el: ET.Element, scope: _Scope) -> None:
    coll = next((c for c in el if c.tag == "collectionProp"), None)
    for header in coll if coll is not None else ():
        name, value = _prop(header, "Header.name") or "", _prop(header, "Header.value")
        if name.lower() in _KEPT:
            scope.headers.append((name, _sub(r, value or "")))
        elif name:
            r.dropped_headers.add(name)


def _csv_data_set(r: _Reader, el: ET.Element, scope: _Scope, here: str) -> None:
    file = _prop(el, "filename") or ""
    columns = [c.strip() for c in (_prop(el, "variableNames") or "").split(",") if c]
    if not columns:
        r.unmapped(here, el.tag, "no variableNames: columns from the file's first line "
                                 "are not supported")
        return
    name = re.sub(r"\W+", "_", file.rsplit("/", 1)[-1].rsplit(".", 1)[0]).strip("_")
    feed = Feed(f"{name or 'data'}_rows".lower(), file, _prop(el, "delimiter") or ",")
    scope.feeds.append((feed, columns))
    r.feeds[feed.name] = feed
    if (_prop(el, "ignoreFirstLine") or "false") != "true":
        r.unmapped(here, el.tag, f"csv_feeder reads the first line of {file} as the "
                   f"column names ({', '.join(columns)}): add it to the file if it has "
                   "none")


def _number(text: str | None) -> float:
    try:
        return float(_PROPERTY.sub(lambda m: m[2], text or "0") or 0)
    except ValueError:
        return 0.0


def _assertion(r: _Reader, el: ET.Element, where: str) -> Check | None:
    subject = _FIELDS.get(_prop(el, "Assertion.test_field") or "")
    if subject is None:
        r.unmapped(where, el.tag, f"tests {_prop(el, 'Assertion.test_field')}: only the "
                                  "response code, data and headers map")
        return None
    kind = int(_number(_prop(el, "Assertion.test_type")) or _SUBSTRING)
    coll = next((c for c in el if c.tag == "collectionProp"
                 and c.get("name") in ("Asserion.test_strings", "Assertion.test_strings")),
                None)
    patterns = [_sub(r, c.text or "") for c in coll] if coll is not None else []
    if not patterns:
        return None
    tests = []
    for p in patterns:
        if kind & _EQUALS:
            tests.append(f"{subject} == {p!r}")
        elif kind & _MATCH:
            tests.append(f"re.fullmatch({p!r}, {subject}) is not None")
        elif kind & _CONTAINS:
            tests.append(f"re.search({p!r}, {subject}) is not None")
        else:
            tests.append(f"{p!r} in {subject}")
    joined = (" or " if kind & _OR else " and ").join(tests)
    expression = f"not ({joined})" if kind & _NOT else (joined if len(tests) == 1
                                                           else f"({joined})")
    return Check(el.get("testname") or "Response Assertion", expression)


def _thread_group(r: _Reader, el: ET.Element, sub: ET.Element | None, scope: _Scope,
                  where: str) -> None:
    users = max(1, int(_number(_prop(el, "ThreadGroup.num_threads")) or 1))
    ramp = _number(_prop(el, "ThreadGroup.ramp_time"))
    if ramp > 0:
        r.unmapped(where, "ThreadGroup.ramp_time", f"{ramp:g}s: perflab's closed model starts "
                                                   "its users at once")
    delay = _number(_prop(el, "ThreadGroup.delay"))
    if delay > 0:
        r.unmapped(where, "ThreadGroup.delay", f"{delay:g}s: a start delay does not map")
    steps: list[Step] = []
    if sub is not None:
        _walk(r, sub, scope, steps, where)
    feeds = dict.fromkeys(s.feeder for s in steps if s.feeder)
    flow = Flow(el.get("testname") or "Thread Group", users, tuple(steps),
                tuple(r.feeds[n] for n in feeds if n in r.feeds))
    r.traffic.flows.append(flow)
    loops_text = None
    controller = _element_prop(el, "ThreadGroup.main_controller")
    if controller is not None:
        loops_text = _prop(controller, "LoopController.loops")
    loops = int(_number(loops_text)) if loops_text else 1
    scheduled = (_prop(el, "ThreadGroup.scheduler") or "false") == "true"
    duration = _number(_prop(el, "ThreadGroup.duration"))
    if scheduled and duration > 0:
        r.durations.append((where, duration))
    elif loops > 0 and steps:
        r.counts.append((where, users * loops * len(steps)))
    else:
        r.unmapped(where, "LoopController.loops", "loops forever with no duration: give the "
                   "run a -d")
    for step in steps:
        r.traffic.requests.append(Observed(
            step.request.method, step.request.path, body=step.request.body,
            headers=step.request.headers, weight=users * max(loops, 1)))


def _bound_run(r: _Reader) -> None:
    """Thread groups' durations or loops as the run's ``-d`` or ``-n``: the longest duration
    when a group has one (a count cannot bound the others then), else the requests of every
    group's loops added up."""
    if r.durations:
        r.traffic.run_args = ["-d", f"{max(d for _, d in r.durations):g}s"]
        for where, count in r.counts:
            r.unmapped(where, "LoopController.loops", f"{count} requests: the run is bounded "
                       "by the longest thread group's duration instead")
    elif r.counts:
        r.traffic.run_args = ["-n", str(sum(n for _, n in r.counts))]


def _container(r: _Reader, el: ET.Element, sub: ET.Element, scope: _Scope, *,
               flow: list[Step] | None, where: str) -> None:
    times = 1
    if el.tag == "LoopController":
        times = int(_number(_prop(el, "LoopController.loops")))
        if not 0 < times <= MAX_INLINE_LOOPS:
            r.unmapped(where, el.tag, f"{times} loops: its requests are imported once")
            times = 1
    seen = len(r.traffic.unmapped)
    for i in range(times):
        _walk(r, sub, scope, flow, where)
        if i == 0:  # the unmapped elements of the body once, not once per loop
            seen = len(r.traffic.unmapped)
    del r.traffic.unmapped[seen:]


def _sampler(r: _Reader, el: ET.Element, sub: ET.Element | None, scope: _Scope,
             where: str) -> Step:
    own = scope.inner()
    if sub is not None:
        for child, _ in _pairs(sub):
            if child.get("enabled") != "false":
                _scoped(r, child, own, where)
        for child, _ in _pairs(sub):
            if child.tag not in ("ConstantTimer", "UniformRandomTimer", "ResponseAssertion",
                                 "HeaderManager", "CSVDataSet", "ConfigTestElement",
                                 "Arguments"):
                r.unmapped(f"{where} > {_label(child)}", child.tag, _why_not(child.tag)
                           if child.get("enabled") != "false" else "disabled in the plan")

    def prop(key: str) -> str:
        return _sub(r, _prop(el, f"HTTPSampler.{key}") or "") or own.defaults.get(key, "")

    method = (prop("method") or "GET").upper()
    path = prop("path") or "/"
    protocol, domain, port = prop("protocol") or "http", prop("domain"), prop("port")
    if "://" in path:
        parts = urlsplit(path)
        protocol, domain, port = parts.scheme, parts.hostname or "", str(parts.port or "")
        path = parts.path + (f"?{parts.query}" if parts.query else "")
    if not path.startswith("/"):
        path = "/" + path
    if domain:
        base = f"{protocol}://{domain}" + (f":{port}" if port else "")
        r.bases[base] = r.bases.get(base, 0) + 1
    args = _element_prop(el, "HTTPsampler.Arguments")
    pairs = _arguments(r, args) if args is not None else []
    body: bytes | None = None
    headers = list(own.headers)
    if (_prop(el, "HTTPSampler.postBodyRaw") or "false") == "true":
        body = "".join(v for _, v in pairs).encode()
    elif pairs:
        encoded = "&".join(f"{quote(k, safe='${}')}={quote(v, safe='${}')}" for k, v in pairs)
        if method in ("POST", "PUT", "PATCH"):
            body = encoded.encode()
            if not any(k.lower() == "content-type" for k, _ in headers):
                headers.append(("Content-Type", "application/x-www-form-urlencoded"))
        else:
            path += ("&" if "?" in path else "?") + encoded
    lo = sum(t[0] for t in own.timers)
    hi = sum(t[1] for t in own.timers)
    used = set(_VARIABLE.findall(path + (body or b"").decode("utf-8", "replace")))
    feeder = next((f.name for f, cols in own.feeds if used & set(cols)), None)
    request = Observed(method, path, body=body, headers=tuple(headers))
    checks = tuple(Check(f"{endpoint_key(method, path)}: {c.name}", c.expression)
                   for c in own.assertions)
    return Step(request, (lo, hi), checks, feeder)

"""An imported ``Traffic`` written as a perflab scenario file (Python, docs/load.md
"Scenarios"): the file a user edits and runs with ``perflab load run -s``.

Three shapes, by what the source recorded:

- **mix** (access logs, HAR, traces): one open scenario at the observed arrival rate, one task
  per endpoint weighted by its requests, each picking among the endpoint's most requested
  concrete paths and sending a body of the observed size (the recorded body when there is one);
- **replay** (``--replay``): the recorded requests in their order, the arrival rate following
  the recorded one bucket by bucket (``stages``: a step per bucket of at least one second);
- **flows** (JMeter): one closed scenario per thread group, its users repeating the group's
  requests in order, with the timers' pauses and the assertions as checks.

Every request is named by its endpoint (``"GET /users/{id}"``), so the summary's
``requests_by_name`` and ``perflab load coverage`` speak of the same endpoints.
"""

from __future__ import annotations

import keyword
import math
import re
from collections import Counter
from typing import TYPE_CHECKING

from perflab.load._import_model import (
    MAX_PATHS,
    EndpointMix,
    Flow,
    Observed,
    Step,
    Unmapped,
    mix,
)
from perflab.units import redact_args

if TYPE_CHECKING:
    from perflab.load._import_model import Traffic

MAX_BODY = 64 * 1024  # bytes of a recorded body written into the file; beyond, its size only
MAX_REPLAY = 100_000  # requests a replay file holds (a bigger log: its first ones)
MAX_BUCKETS = 150  # rate steps of a replay (the scheduler walks them per arrival)
MAX_TASKS = 200  # endpoints written as tasks; the rarer ones are listed, not written
_KEPT_HEADERS = ("content-type", "accept")  # secrets (cookies, tokens) never go into a file


def render_scenario(traffic: Traffic, *, replay: bool = False, command: str = "") -> str:
    """The scenario file's text."""
    endpoints = mix(traffic.requests)
    if traffic.flows:
        body = _flows(traffic)
    elif replay:
        body = _replay(traffic)
    else:
        body = _mix(traffic, endpoints)
    tail = None if traffic.flows else long_tail(endpoints, replay=replay)
    return _header(traffic, command, len(endpoints), tail, replay=replay) + body


def _header(traffic: Traffic, command: str, endpoints: int, tail: Unmapped | None, *,
            replay: bool) -> str:
    total = sum(r.weight for r in traffic.requests)
    rate = traffic.arrival_rate()
    lines = [f"Imported from {traffic.path} ({traffic.format}) by perflab load import"
             + (f":\n    {command}" if command else "."),
             f"{total} requests, {endpoints} endpoints"
             + (f", {rate:.4g} requests/s" if rate is not None else "")
             + (", replayed in order at the recorded rate." if replay else ".")]
    if any("?" in r.path and safe_path(r.path) != r.path for r in traffic.requests):
        lines.append("Query parameters named like secrets (token, api_key, password) are "
                     "written as ***: set them here.")
    args = run_args(traffic, replay=replay)
    if args:
        lines.append("Run it as the source ran: perflab load run -s THIS_FILE "
                     + " ".join(args))
    unmapped = [*traffic.unmapped, *filter(None, [tail])]
    if unmapped:
        lines.append(f"Not reproduced ({len(unmapped)}; see the import's output):")
        lines.extend(f"  - {u.where}: {u.element}: {u.reason}" for u in unmapped[:20])
    text = "\n".join(lines).replace('"""', "'''").replace("\\", "\\\\")
    return f'"""{text}\n"""\n\n'


def long_tail(endpoints: list[EndpointMix], *, replay: bool) -> Unmapped | None:
    """The endpoints beyond ``MAX_TASKS`` (the rarest), which a mix scenario leaves out: a
    log whose paths carry names rather than ids (``/posts/my-first-post``) has thousands."""
    rest = endpoints[MAX_TASKS:]
    if replay or not rest:
        return None
    share = sum(e.share for e in rest) * 100
    return Unmapped("mix", "endpoints", f"{len(rest)} rarest endpoints ({share:.2f} % of the "
                    f"requests) are not written as tasks: the file keeps the {MAX_TASKS} most "
                    "requested")


def run_args(traffic: Traffic, *, replay: bool) -> list[str]:
    """The ``perflab load run`` options that reproduce the source: a JMeter plan's ``-n`` or
    ``-d``; a replay's length (the run's default, 10 s, may be shorter)."""
    if replay and not traffic.flows:
        seconds = sum(width for width, _ in replay_stages(traffic)[0])
        return ["-d", f"{seconds:g}s"] if seconds else []
    return list(traffic.run_args)


def _literal(value: object) -> str:
    return repr(value)


def safe_path(path: str) -> str:
    """A recorded path as the file holds it: the values of query parameters named like a
    secret (``token``, ``api_key``, ``password``) as ``***`` (a scenario file gets shared and
    committed; production's credentials must not travel with it)."""
    base, sep, query = path.partition("?")
    if not sep:
        return path
    return base + "?" + "&".join(redact_args(query.split("&")))


def identifier(text: str, taken: set[str]) -> str:
    """A Python name for a task, from its endpoint; unique among ``taken``."""
    base = re.sub(r"[^0-9a-zA-Z]+", "_", text).strip("_").lower()[:60] or "request"
    if base[0].isdigit() or keyword.iskeyword(base):
        base = f"r_{base}"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    taken.add(name)
    return name


def _body_args(req: Observed, size: float) -> str:
    """The ``body=`` and ``headers=`` arguments of a request (none when it sends nothing)."""
    args = []
    if req.body is not None and len(req.body) <= MAX_BODY:
        if req.body:
            args.append(f"body={_literal(req.body)}")
    elif size >= 1:
        args.append(f"body=bytes({math.ceil(size)})")  # the observed size, not its content
    headers = {k: v for k, v in req.headers if k.lower() in _KEPT_HEADERS}
    if headers:
        args.append(f"headers={_literal(headers)}")
    return "".join(f", {a}" for a in args)


def _mix(traffic: Traffic, endpoints: list[EndpointMix]) -> str:
    rate = traffic.arrival_rate()
    head = ("import random\n\nfrom perflab.load import Scenario, Session\n\n"
            f"imported = Scenario({_literal('imported')}, base_url="
            f"{_literal(traffic.base_url)}, rate={round(rate, 4) if rate else 1.0!r})\n")
    taken: set[str] = {"imported", "random", "Scenario", "Session"}
    return head + "".join(_mix_task(ep, identifier(ep.endpoint, taken))
                          for ep in endpoints[:MAX_TASKS])


def _mix_task(ep: EndpointMix, name: str) -> str:
    paths_name = f"{name.upper()}_PATHS"
    answers = ("" if ep.response_bytes_mean is None
               else f"; responses {ep.response_bytes_mean:.0f} B on average")
    statuses = ", ".join(f"{k}: {v}" for k, v in ep.statuses.items())
    note = (f"# {ep.endpoint}: {ep.share * 100:.1f} % of requests ({ep.requests}){answers}"
            + (f"; statuses {statuses}" if statuses else "")
            + (f"; its {MAX_PATHS} most requested paths" if len(ep.paths) == MAX_PATHS else ""))
    return (f"\n\n{note}\n{paths_name} = {_literal([safe_path(p) for p in ep.paths])}\n\n\n"
            f"@imported.task(weight={ep.requests}, name={_literal(ep.endpoint)})\n"
            f"async def {name}(s: Session) -> None:\n"
            f"    await s.request({_literal(ep.method)}, random.choice({paths_name})"
            f"{_body_args(ep.sample, ep.body_bytes_mean)}, name={_literal(ep.endpoint)})\n")


def replay_stages(traffic: Traffic) -> tuple[list[tuple[float, float]], float]:
    """(bucket seconds, rate) steps that follow the recorded arrivals, and the first rate.

    Buckets are whole seconds (an access log's resolution), widened so that there are at most
    ``MAX_BUCKETS``; each step ramps to its rate in 1 ms and holds it, so a bucket starts
    about as many requests as the recording did in it."""
    times = sorted(r.at_s for r in traffic.requests[:MAX_REPLAY] if r.at_s is not None)
    if not times:
        return [], 0.0
    span = math.floor(times[-1] - times[0]) + 1
    width = max(1, math.ceil(span / MAX_BUCKETS))
    counts = Counter(int((t - times[0]) // width) for t in times)
    buckets = math.ceil(span / width)
    steps = [(float(width), counts.get(i, 0) / width) for i in range(buckets)]
    return steps, steps[0][1]


def _step_stages(steps: list[tuple[float, float]]) -> list[str]:
    """Stages that start each bucket's requests within it: a 1 ms ramp from the previous
    rate, then a hold at the rate that makes the bucket's arrivals its recorded count (the
    ramp's share included), so the counts add up to the recording's."""
    ramp = 0.001
    out = []
    prev = steps[0][1]
    for i, (width, rate) in enumerate(steps):
        if i == 0:
            out.append(f"{width:g}s:{rate:.10g}")
            continue
        count = rate * width
        hold = max(0.0, (count - prev * ramp / 2) / (width - ramp / 2))
        out += [f"{ramp * 1000:g}ms:{hold:.10g}", f"{width - ramp:.10g}s:{hold:.10g}"]
        prev = hold
    return out


def _replay(traffic: Traffic) -> str:
    steps, first = replay_stages(traffic)
    if not steps:  # no times (a JMeter plan, spans without start): one per second
        steps, first = [(float(max(1, len(traffic.requests))), 1.0)], 1.0
    stages = ",".join(_step_stages(steps))
    rows = []
    for r in traffic.requests[:MAX_REPLAY]:
        row = {"method": r.method, "path": safe_path(r.path), "name": r.endpoint}
        if r.body is not None and 0 < len(r.body) <= MAX_BODY:
            row["body"] = r.body.decode("latin-1")
        rows.append(row)
    return ("from perflab.load import Feeder, Scenario, Session\n\n"
            "# the recorded requests in order (each load worker walks its own share)\n"
            f"RECORDED = Feeder({_literal(rows)}, {_literal(traffic.path)})\n\n"
            f"replay = Scenario({_literal('replay')}, base_url={_literal(traffic.base_url)},\n"
            f"                  rate={first:g}, stages={_literal(stages)})\n\n\n"
            "@replay.task()\n"
            "async def recorded(s: Session) -> None:\n"
            "    r = RECORDED.next()\n"
            '    body = r["body"].encode("latin-1") if "body" in r else None\n'
            '    await s.request(r["method"], r["path"], body=body, name=r["name"])\n')


def _flows(traffic: Traffic) -> str:
    feeds = {f.name: f for flow in traffic.flows for f in flow.feeds}
    modules = [m for m, used in (("random", _uses_random(traffic.flows)),
                                 ("re", _uses_re(traffic.flows))) if used]
    imports = "".join(f"import {m}\n" for m in modules) + ("\n" if modules else "")
    out = [f"{imports}from perflab.load import Scenario, Session"
           + (", csv_feeder" if feeds else "") + "\n\n"]
    if feeds:
        out.append("\ndef fill(text: str, row: dict[str, str]) -> str:\n"
                   '    """JMeter\'s ${name}: the value of column name in the row."""\n'
                   "    for key, value in row.items():\n"
                   '        text = text.replace("${" + key + "}", value)\n'
                   "    return text\n\n\n")
    out.extend(f"{feed.name} = csv_feeder({_literal(feed.file)}, "
               f"delimiter={_literal(feed.delimiter)})\n" for feed in feeds.values())
    taken = {"random", "Scenario", "Session", "csv_feeder", "fill", *feeds}
    for flow in traffic.flows:
        var = identifier(flow.name, taken)
        out.append(f"\n{var} = Scenario({_literal(flow.name)}, base_url="
                   f"{_literal(traffic.base_url)}, connections={flow.users})\n\n\n"
                   f"@{var}.task(name={_literal(flow.name)})\n"
                   f"async def {identifier(flow.name + '_iteration', taken)}"
                   "(s: Session) -> None:\n")
        if flow.feeds:  # JMeter's CSV Data Set moves to its next row once per iteration
            rows = ", ".join(f"**{f.name}.next()" for f in flow.feeds)
            out.append(f"    row = {{{rows}}}\n")
        out.extend(_step(step, flow) for step in flow.steps)
        if not flow.steps:
            out.append("    pass\n")
    return "".join(out)


def _uses_random(flows: list[Flow]) -> bool:
    return any(lo != hi for f in flows for s in f.steps for lo, hi in (s.sleep_s,))


def _uses_re(flows: list[Flow]) -> bool:
    return any("re." in c.expression for f in flows for s in f.steps for c in s.checks)


def _step(step: Step, flow: Flow) -> str:
    lines = []
    lo, hi = step.sleep_s
    if hi > 0:
        pause = f"{lo:g}" if lo == hi else f"random.uniform({lo:g}, {hi:g})"
        lines.append(f"    await s.sleep({pause})")
    req = step.request
    path = _literal(safe_path(req.path))
    body = _body_args(req, req.body_bytes)
    if step.feeder is not None and flow.feeds:
        path = f"fill({path}, row)"
        if req.body is not None and 0 < len(req.body) <= MAX_BODY:
            text = req.body.decode("utf-8", "replace")
            body = body.replace(f"body={_literal(req.body)}",
                                f"body=fill({_literal(text)}, row)")
    target = "r = " if step.checks else ""
    lines.append(f"    {target}await s.request({_literal(req.method)}, {path}{body}, "
                 f"name={_literal(req.endpoint)})")
    lines.extend(f"    s.check({_literal(c.name)}, {c.expression})" for c in step.checks)
    return "\n".join(lines) + "\n"

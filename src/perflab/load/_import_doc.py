"""The document ``perflab load import`` answers with (``--json``) and its terminal view."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from perflab.load._import_model import mix
from perflab.load._import_write import long_tail, run_args

if TYPE_CHECKING:
    from perflab.load._contracts import LoadImportDoc
    from perflab.load._import_model import Traffic

IMPORT_SCHEMA: Literal["perflab.load-import/1"] = "perflab.load-import/1"


def import_document(traffic: Traffic, *, output: str | None, replay: bool) -> LoadImportDoc:
    endpoints = mix(traffic.requests)
    rate = traffic.arrival_rate()
    tail = None if traffic.flows else long_tail(endpoints, replay=replay)
    return {
        "schema": IMPORT_SCHEMA,
        "source": traffic.source,
        "path": traffic.path,
        "format": traffic.format,
        "output": output,
        "replay": replay,
        "requests": sum(r.weight for r in traffic.requests),
        "span_s": traffic.span_s(),
        "rate_per_s": rate,
        "base_url": traffic.base_url,
        "endpoints": [{
            "endpoint": e.endpoint, "method": e.method, "template": e.template,
            "requests": e.requests, "share_pct": 100.0 * e.share,
            "body_bytes_mean": e.body_bytes_mean, "body_bytes_max": e.body_bytes_max,
            "response_bytes_mean": e.response_bytes_mean, "statuses": e.statuses,
        } for e in endpoints],
        "flows": [{"name": f.name, "users": f.users, "steps": len(f.steps)}
                  for f in traffic.flows],
        "run_args": run_args(traffic, replay=replay),
        "unmapped": [{"where": u.where, "element": u.element, "reason": u.reason}
                     for u in [*traffic.unmapped, *filter(None, [tail])]],
    }


def render_import(doc: LoadImportDoc) -> str:
    """What the terminal shows on stdout: the mix, heaviest first."""
    rate = doc["rate_per_s"]
    lines = [f"imported {doc['requests']} requests from {doc['path']} ({doc['format']})"
             + (f", {rate:.4g}/s" if rate is not None else "")
             + (f" -> {doc['output']}" if doc["output"] else "") + "\n"]
    lines.extend(f"  {e['share_pct']:6.2f} %  {e['requests']:>8}  {e['endpoint']}\n"
                 for e in doc["endpoints"][:30])
    if len(doc["endpoints"]) > 30:  # a screenful
        lines.append(f"  ... and {len(doc['endpoints']) - 30} more endpoints (--json)\n")
    lines.extend(f"  flow {f['name']!r}: {f['users']} users, {f['steps']} requests per "
                 "iteration\n" for f in doc["flows"])
    if doc["run_args"]:
        lines.append(f"run it with: perflab load run -s {doc['output'] or 'SCENARIO'} "
                     + " ".join(doc["run_args"]) + "\n")
    return "".join(lines)


def render_unmapped(doc: LoadImportDoc) -> str:
    """What goes to stderr: every element of the input the scenario does not reproduce."""
    if not doc["unmapped"]:
        return ""
    lines = [f"perflab: {len(doc['unmapped'])} elements not reproduced by the scenario:\n"]
    lines.extend(f"  {u['where']}: {u['element']}: {u['reason']}\n" for u in doc["unmapped"])
    return "".join(lines)

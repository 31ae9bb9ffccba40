"""Load test coverage: the share of production requests whose endpoint a scenario exercises.

The endpoints a scenario exercises are found by running its tasks without a network: each
task runs a few times against a session that records the requests it would send (method and
path, as ``"GET /users/{id}"``) and answers each with an empty 200. A task that needs a real
answer (``r.json()["items"][0]``) stops at that point; what it asked for until then counts,
and the task is named in ``notes``. Production's endpoints are weighted by their requests; an
endpoint is covered when the scenario exercises one that matches it (the same method and
segments, a placeholder matching any one segment), so the scenario's ``/users/{user_id}``
covers production's ``/users/{id}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from perflab.load._contracts import LoadCoverageDoc, LoadCoverageEndpoint
from perflab.load._import_model import endpoint_key, endpoint_matches, mix
from perflab.load._scenario import Response, Session, load_scenario_file
from perflab.units import parse_duration

if TYPE_CHECKING:
    from perflab.load._import_model import Traffic

COVERAGE_SCHEMA: Literal["perflab.load-coverage/1"] = "perflab.load-coverage/1"
TARGET_PCT = 95.0  # the seed's goal: 95 % of production scenarios
DRY_RUNS = 20  # times each task runs (tasks choose among paths at random)
MAX_REQUESTS_PER_TASK = 1000  # a task that loops forever is stopped here


class _Stop(Exception):  # a signal, not an error
    """Ends a task that asked for more requests than a dry run gives it."""


class RecordingSession(Session):
    """A session that sends nothing: it notes each request and answers it with an empty 200."""

    def __init__(self) -> None:
        self.endpoints: dict[str, int] = {}
        self._count = 0

    async def request(self, method: str, path: str, *, headers: dict[str, str] | None = None,
                      body: bytes | str | None = None, json: Any = None,
                      name: str | None = None) -> Response:
        del headers, body, json, name  # only what is asked for counts
        self._count += 1
        if self._count > MAX_REQUESTS_PER_TASK:
            raise _Stop
        key = endpoint_key(method, path)
        self.endpoints[key] = self.endpoints.get(key, 0) + 1
        return Response(200, {}, b"", 0.0)

    def check(self, name: str, condition: bool) -> bool:
        del name
        return bool(condition)

    async def sleep(self, seconds: float | str) -> None:
        parse_duration(seconds) if isinstance(seconds, str) else float(seconds)  # validated


def scenario_endpoints(path: str) -> tuple[dict[str, int], list[str]]:
    """The endpoints a scenario file's tasks request (with how often in the dry run), and
    notes on the tasks that stopped early."""
    spec = load_scenario_file(path)
    found: dict[str, int] = {}
    notes: list[str] = []

    async def dry_run() -> None:
        for sc in spec.scenarios:
            for task in sc.tasks:
                for _ in range(DRY_RUNS):
                    session = RecordingSession()
                    try:
                        # a task's prints are not the coverage's output
                        with contextlib.redirect_stdout(io.StringIO()):
                            await task.fn(session)
                    except _Stop:
                        pass
                    except Exception as exc:  # the user's code, reported
                        note = (f"{sc.name}/{task.name} stopped in the dry run "
                                f"({type(exc).__name__}: {str(exc)[:100]}); the requests "
                                "before count")
                        if note not in notes:
                            notes.append(note)
                    for key, n in session.endpoints.items():
                        found[key] = found.get(key, 0) + n

    asyncio.run(dry_run())
    return found, notes


def coverage_of(exercised: list[str], production: Traffic, *, scenario: str,
             target_pct: float = TARGET_PCT, notes: list[str] | None = None
             ) -> LoadCoverageDoc:
    """How much of production's traffic the ``exercised`` endpoints cover."""
    endpoints = mix(production.requests)
    total = sum(e.requests for e in endpoints)
    rows: list[LoadCoverageEndpoint] = []
    covered_requests = 0
    matched: set[str] = set()
    for e in endpoints:
        by = next((x for x in exercised if endpoint_matches(x, e.endpoint)), None)
        if by is not None:
            covered_requests += e.requests
            matched.add(by)
        rows.append({"endpoint": e.endpoint, "requests": e.requests,
                     "share_pct": 100.0 * e.requests / total if total else 0.0,
                     "covered_by": by})
    pct = 100.0 * covered_requests / total if total else None
    return {
        "schema": COVERAGE_SCHEMA,
        "scenario": scenario,
        "against": {"source": production.source, "path": production.path,
                    "format": production.format, "requests": total,
                    "endpoints": len(endpoints)},
        "coverage_pct": pct,
        "target_pct": target_pct,
        "meets_target": pct is not None and pct >= target_pct,
        "endpoints": rows,
        "missed": [r for r in rows if r["covered_by"] is None],
        "not_in_production": sorted(x for x in exercised if x not in matched),
        "notes": list(notes or []),
    }


def coverage_document(scenario: str, production: Traffic, *,
                      target_pct: float = TARGET_PCT) -> LoadCoverageDoc:
    """``perflab load coverage``: the scenario file's endpoints (a dry run) against
    production's traffic."""
    found, notes = scenario_endpoints(scenario)
    return coverage_of(sorted(found), production, scenario=scenario, target_pct=target_pct,
                       notes=notes)


def run_coverage(production: Traffic, *, scenario_file: str | None, method: str,
                 url: str | None, target_pct: float = TARGET_PCT) -> LoadCoverageDoc:
    """The coverage of a load run (``perflab load run --coverage-against``): its scenario
    file's endpoints, or the one endpoint of a URL test."""
    if scenario_file is not None:
        return coverage_document(scenario_file, production, target_pct=target_pct)
    path = urlsplit(url or "/").path or "/"
    return coverage_of([endpoint_key(method, path)], production, scenario=url or "",
                       target_pct=target_pct)


def render_coverage(doc: LoadCoverageDoc) -> str:
    """The terminal's view: the figure, then the endpoints missed, heaviest first."""
    pct = doc["coverage_pct"]
    against = doc["against"]
    head = (f"coverage  {'-' if pct is None else f'{pct:.1f} %'} of {against['requests']} "
            f"production requests ({against['endpoints']} endpoints, {against['path']})"
            f"  target {doc['target_pct']:g} %: "
            + ("met" if doc["meets_target"] else "NOT met") + "\n")
    lines = [head]
    if doc["missed"]:
        lines.append("missed (by share of production traffic):\n")
        lines.extend(f"  {m['share_pct']:6.2f} %  {m['requests']:>8}  {m['endpoint']}\n"
                     for m in doc["missed"][:30])
        if len(doc["missed"]) > 30:  # a screenful
            lines.append(f"  ... and {len(doc['missed']) - 30} more (--json lists them all)\n")
    if doc["not_in_production"]:
        lines.append("exercised but not seen in production: "
                     + ", ".join(doc["not_in_production"][:10]) + "\n")
    lines.extend(f"note: {n}\n" for n in doc["notes"])
    return "".join(lines)

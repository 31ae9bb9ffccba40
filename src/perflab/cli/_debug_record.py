"""Where the debug commands (goroutines, race, stacks) put what they found: on the run given
with ``--run``, else on a run of their own kind, as ``record`` does, so the Run page shows it.
No schema change: a finding is an artifact (the command's JSON document), events (one per
verdict, kind ``debug.<what>``) and series (counts by state) at the time it was taken."""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

from perflab.cli._common import open_store

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from perflab.store import Store


@dataclass(slots=True)
class Finding:
    """What one debug command stores: ``kind`` names the run kind and the artifact."""

    kind: str
    name: str
    document: Mapping[str, object]  # the command's --json body (a TypedDict)
    events: list[tuple[str, str, Mapping[str, object]]] = field(default_factory=list)
    counts: dict[str, dict[str, float]] = field(default_factory=dict)  # series -> state -> n
    labels: dict[str, str] = field(default_factory=dict)  # on every count series (the target)


def run_option(f: Any) -> Any:
    return click.option("--run", "run_ref", default=None,
                        help="Store the finding on this run (id or name) instead of a new run "
                             "of its own.")(f)


@contextlib.contextmanager
def finding_run(store_path: str | None, run_ref: str | None, kind: str, name: str, *,
                start_ns: int, end_ns: int) -> Iterator[tuple[Store, int]]:
    """The store and the run a finding goes on (``--run``, else a new run of ``kind`` ending at
    ``end_ns``), all written in one transaction."""
    store = open_store(store_path)
    try:
        with store.transaction():
            run_id = (store.run(run_ref).id if run_ref is not None else
                      store.create_run(kind, name, started_ns=start_ns).id)
            yield store, run_id
            if run_ref is None:
                store.finish_run(run_id, "ok", ended_ns=end_ns, rollup=False)
    finally:
        store.close()


def record_finding(store_path: str | None, run_ref: str | None, finding: Finding) -> int:
    """Store ``finding``; the id of the run that holds it."""
    now = time.time_ns()
    with finding_run(store_path, run_ref, finding.kind, finding.name, start_ns=now,
                     end_ns=now) as (store, run_id):
        store.add_artifact(run_id, finding.kind, json.dumps(finding.document).encode(),
                           name=f"{finding.kind}.json", content_type="application/json",
                           ts_ns=now)
        for kind, text, attrs in finding.events:
            store.add_event(run_id, kind, text, ts_ns=now, attrs=dict(attrs))
        rows = []
        for series, by_state in finding.counts.items():
            for state, value in by_state.items():
                sid = store.series_id(run_id, series, {**finding.labels, "state": state},
                                      unit="")
                rows.append((sid, now, float(value)))
        if rows:
            store.insert_samples(rows)
    return run_id

"""The demo's leak, found by an alerting rule: the rule a user would write for a memory leak,
evaluated over the demo's run (``perflab.metrics.replay_rules``); each firing is an ``alert``
band on the run's timeline and a line of the demo's notes."""

from __future__ import annotations

from perflab.metrics import replay_rules
from perflab.store import Store
from perflab.units import format_duration, format_size

# RSS growing faster than 4 MiB a minute (the leak finding's own threshold) for 20 s
LEAK_RULE = """
groups:
  - name: demo
    rules:
      - alert: MemoryLeak
        expr: deriv(perflab_process_rss_bytes{{pid="{pid}",perflab_run="{run}"}}[1m]) > {rate}
        for: 20s
        labels: {{severity: warning}}
        annotations:
          summary: "process {pid} grows {{{{ $value | humanize1024 }}}}B/s"
"""
LEAK_BYTES_PER_S = 4 * 1024**2 / 60


def leak_alerts(store: Store, run_id: int, pid: int) -> list[str]:
    """Notes for the alerts the leak rule fires over the run (none: no note)."""
    run = store.run(run_id)
    fired = replay_rules(store, run_id, LEAK_RULE.format(pid=pid, run=run_id,
                                                         rate=LEAK_BYTES_PER_S))
    notes = []
    for f in fired:
        at = format_duration((f.fired_ns - run.started_ns) / 1e9)
        notes.append(f"alert {f.rule} fired {at} into the run "
                     f"(RSS +{format_size(f.value)}/s); see the alert band on the timeline")
    return notes

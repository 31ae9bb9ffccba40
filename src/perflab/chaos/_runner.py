"""An experiment run as chaostoolkit-lib's ``Runner`` runs it, with its journal: the hypothesis
before, the method (background activities in threads), the hypothesis after, the rollbacks by
strategy. Two deliberate differences, both from the brief: a deviation seen while the hypothesis
is checked during the method aborts the method at once (status ``aborted``, ``deviated`` true)
and the rollbacks run; Ctrl-C also runs the rollbacks before the run stops (``interrupted``).
"""

from __future__ import annotations

import platform
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from perflab.chaos._activities import Context, execute_activity, run_hypothesis

if TYPE_CHECKING:
    from perflab.chaos._experiment import Experiment

JOURNAL_STATUSES = ("completed", "failed", "aborted", "interrupted")


@dataclass(frozen=True)
class RunOptions:
    """How to run: ``dry`` (probes/actions/activities/pause), the rollback and hypothesis
    strategies (Chaos Toolkit's names) and the period of the hypothesis during the method."""

    dry: str | None = None
    rollback_strategy: str = "default"
    hypothesis_strategy: str = "default"
    frequency_s: float = 1.0


def _version() -> str:
    from perflab import __version__  # noqa: PLC0415  # the package's own, resolved once run

    return str(__version__)


def new_journal(exp: Experiment) -> dict[str, Any]:
    return {"perflab-version": _version(), "platform": platform.platform(),
            "node": platform.node(), "experiment": dict(exp),
            "start": datetime.now(UTC).isoformat(), "status": None, "deviated": False,
            "steady_states": {"before": None, "after": None, "during": []},
            "run": [], "rollbacks": []}


def _named(exp: Experiment) -> dict[str, Any]:
    hypo = exp.get("steady-state-hypothesis") or {}
    every = [*hypo.get("probes", []), *exp.get("method", []), *exp.get("rollbacks", [])]
    return {a["name"]: a for a in every if "ref" not in a}


def _failed_probe(state: dict[str, Any]) -> bool:
    return any(p["status"] != "succeeded" for p in state["probes"])


class _Run:
    def __init__(self, exp: Experiment, ctx: Context, options: RunOptions) -> None:
        self.exp, self.ctx, self.options = exp, ctx, options
        self.journal = new_journal(exp)
        self.stop = threading.Event()
        ctx.stop = self.stop
        ctx.named = _named(exp)

    def hypothesis(self) -> dict[str, Any] | None:
        return run_hypothesis(self.exp.get("steady-state-hypothesis"), self.ctx)

    def before(self) -> bool:
        state = self.hypothesis()
        self.journal["steady_states"]["before"] = state
        if state is not None and not state["steady_state_met"]:
            self.journal["status"] = "failed" if _failed_probe(state) else "completed"
            return False
        return True

    def after(self) -> None:
        state = self.hypothesis()
        self.journal["steady_states"]["after"] = state
        if state is not None and not state["steady_state_met"]:
            self.journal["deviated"] = True
            self.journal["status"] = "failed" if _failed_probe(state) else "completed"

    def during(self) -> None:
        """Check the hypothesis every period while the method runs; a miss aborts it."""
        while not self.stop.is_set():
            state = self.hypothesis()
            if state is None:
                return
            self.journal["steady_states"]["during"].append(state)
            if not state["steady_state_met"]:
                self.journal["deviated"] = True
                self.journal["status"] = "aborted"
                self.stop.set()
                return
            self.stop.wait(self.options.frequency_s)

    def method(self) -> None:
        runs: list[dict[str, Any]] = self.journal["run"]
        background = [a for a in self.exp["method"] if a.get("background")]
        pool = ThreadPoolExecutor(len(background)) if background else None
        futures: list[Future[dict[str, Any]]] = []
        try:
            for activity in self.exp["method"]:
                if self.stop.is_set():
                    break
                if activity.get("background") and pool is not None:
                    futures.append(pool.submit(execute_activity, activity, self.ctx, runs))
                else:
                    execute_activity(activity, self.ctx, runs)
        finally:
            if pool is not None:
                pool.shutdown(wait=True)

    def rollbacks(self) -> None:
        strategy = self.options.rollback_strategy
        status = self.journal["status"]
        play = {"always": True, "never": False,
                "deviated": bool(self.journal["deviated"])}.get(
            strategy, status != "failed")
        if not play:
            return
        self.ctx.stop = None  # rollbacks' pauses are not cut short
        runs: list[dict[str, Any]] = self.journal["rollbacks"]
        background = [a for a in self.exp.get("rollbacks", []) if a.get("background")]
        with ThreadPoolExecutor(max(1, len(background))) as pool:
            for activity in self.exp.get("rollbacks", []):
                if activity.get("background"):
                    pool.submit(execute_activity, activity, self.ctx, runs)
                else:
                    execute_activity(activity, self.ctx, runs)


def run_experiment(exp: Experiment, ctx: Context, options: RunOptions) -> dict[str, Any]:
    """Run ``exp`` and answer its journal (Chaos Toolkit's format)."""
    run = _run = _Run(exp, ctx, options)
    started = time.monotonic()
    strategy = options.hypothesis_strategy
    has_hypothesis = strategy != "skip" and bool(
        (exp.get("steady-state-hypothesis") or {}).get("probes"))
    checker: threading.Thread | None = None
    try:
        go_on = True
        if has_hypothesis and strategy in ("default", "before-method-only", "continuously"):
            go_on = run.before()
        if go_on:
            if has_hypothesis and strategy in ("during-method-only", "continuously"):
                checker = threading.Thread(target=run.during, name="hypothesis", daemon=True)
                checker.start()
            run.method()
            run.stop.set()
            if checker is not None:
                checker.join()
            if run.journal["status"] not in ("aborted", "interrupted") and has_hypothesis and (
                    strategy in ("default", "after-method-only", "continuously")):
                run.after()
    except KeyboardInterrupt:
        run.journal["status"] = "interrupted"
        run.stop.set()
    finally:
        if checker is not None:
            checker.join()
        _run.rollbacks()
        journal = run.journal
        journal["end"] = datetime.now(UTC).isoformat()
        journal["duration"] = time.monotonic() - started
        if journal["status"] not in JOURNAL_STATUSES:
            journal["status"] = "completed"
    return journal


def exit_code(journal: dict[str, Any]) -> int:
    """0 completed without deviation; 1 deviated, failed, aborted, or the steady state was not
    met before the method (chaostoolkit-lib calls that run ``completed``: nothing was tested);
    130 interrupted."""
    if journal["status"] == "interrupted":
        return 130
    before = journal["steady_states"]["before"]
    if journal["deviated"] or journal["status"] != "completed" or (
            before is not None and not before["steady_state_met"]):
        return 1
    return 0

"""An experiment's activities run as Chaos Toolkit runs them: the python, http and process
providers (and perflab's own, ``type: perflab``), pauses, dry modes, and the journal's run record
(``activity``, ``output``, ``start``, ``status``, ``end``, ``duration``, ``exception``).
"""

from __future__ import annotations

import importlib
import inspect
import json
import shutil
import subprocess
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perflab.chaos import providers
from perflab.chaos._experiment import substitute
from perflab.chaos._tolerance import within_tolerance

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable

    from perflab.chaos._experiment import Activity


class ActivityFailed(Exception):
    """An activity that could not do its work (chaostoolkit-lib's ``ActivityFailed``)."""


@dataclass
class Context:
    """What every activity sees: the resolved configuration and secrets, the dry mode, the named
    activities (for ``ref``) and the event that interrupts pauses."""

    configuration: dict[str, Any]
    secrets: dict[str, dict[str, Any]]
    dry: str | None = None
    named: dict[str, Activity] = field(default_factory=dict)
    stop: threading.Event | None = None
    on_activity: Callable[[dict[str, Any]], None] | None = None

    def sub(self, data: object) -> Any:
        return substitute(data, self.configuration, self.secrets)


def _now() -> datetime:
    return datetime.now(UTC)


def _is_dry(activity: Activity, dry: str | None) -> bool:
    modes: dict[str, bool] = {"actions": activity["type"] == "action",
                              "probes": activity["type"] == "probe", "activities": True}
    return modes.get(dry or "", False)


def _pause(seconds: object, ctx: Context) -> None:
    if not seconds:
        return
    delay = float(seconds)  # type: ignore[arg-type]
    if ctx.stop is not None:
        ctx.stop.wait(delay)
    else:
        time.sleep(delay)


def execute_activity(activity: Activity, ctx: Context,
                     runs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Run one activity and answer its journal record (appended to ``runs`` when it starts)."""
    if "ref" in activity:
        activity = ctx.named[activity["ref"]]
    dry = activity.get("dry", ctx.dry)
    pauses = ctx.sub(activity.get("pauses") or {})
    is_dry = _is_dry(activity, dry)
    if dry != "pause" and not is_dry:
        _pause(pauses.get("before"), ctx)
    start = _now()
    run: dict[str, Any] = {"activity": dict(activity), "output": None,
                           "start": start.isoformat()}
    if runs is not None:
        runs.append(run)
    try:
        run["output"] = None if is_dry else run_activity(activity, ctx)
        run["status"] = "succeeded"
    except ActivityFailed as exc:
        run["status"] = "failed"
        run["exception"] = traceback.format_exception(type(exc), exc, None)
    finally:
        end = _now()
        run["end"] = end.isoformat()
        run["duration"] = (end - start).total_seconds()
    if ctx.on_activity is not None:
        ctx.on_activity(run)
    if dry != "pause" and not is_dry:
        _pause(pauses.get("after"), ctx)
    return run


def run_activity(activity: Activity, ctx: Context) -> Any:
    provider = activity["provider"]
    kind = provider["type"]
    if kind == "python":
        return _run_python(provider, ctx)
    if kind == "http":
        return _run_http(activity, ctx)
    if kind == "process":
        return _run_process(provider, ctx)
    try:
        func = providers.function(provider["func"])
    except providers.ProviderError as exc:
        raise ActivityFailed(str(exc)) from exc
    return _call(func, provider, ctx)


def _run_python(provider: dict[str, Any], ctx: Context) -> Any:
    try:
        module = importlib.import_module(provider["module"])
        func = getattr(module, provider["func"])
    except (ImportError, AttributeError) as exc:
        msg = f"cannot load {provider['module']}.{provider['func']}: {exc}"
        raise ActivityFailed(msg) from exc
    return _call(func, provider, ctx)


def _call(func: Callable[..., Any], provider: dict[str, Any], ctx: Context) -> Any:
    arguments = dict(ctx.sub(provider.get("arguments") or {}))
    params = inspect.signature(func).parameters
    if "secrets" in provider and "secrets" in params:
        arguments["secrets"] = {}
        for scope in provider["secrets"]:
            arguments["secrets"].update(ctx.secrets.get(scope, {}))
    if "configuration" in params:
        arguments["configuration"] = dict(ctx.configuration)
    try:
        return func(**arguments)
    except ActivityFailed:
        raise
    except Exception as exc:  # a provider's failure is the activity's, recorded in the journal
        raise ActivityFailed(
            traceback.format_exception_only(type(exc), exc)[0].strip()) from exc


def _run_http(activity: Activity, ctx: Context) -> dict[str, Any]:
    provider = activity["provider"]
    url = str(ctx.sub(provider["url"]))
    method = str(provider.get("method", "GET")).upper()
    headers = dict(ctx.sub(provider.get("headers") or {}))
    timeout = ctx.sub(provider.get("timeout"))
    if isinstance(timeout, list):  # requests' (connect, read): one bound here
        timeout = sum(timeout)
    arguments = ctx.sub(provider.get("arguments"))
    data: bytes | None = None
    if arguments and method == "GET":
        url += ("&" if "?" in url else "?") + urllib.parse.urlencode(arguments)
    elif arguments is not None:
        if headers.get("Content-Type") == "application/json":
            data = json.dumps(arguments).encode()
        else:
            data = (urllib.parse.urlencode(arguments) if isinstance(arguments, dict)
                    else str(arguments)).encode()
    request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            status, head, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:  # 4xx/5xx are answers: the tolerance judges them
        status, head, raw = exc.code, dict(exc.headers), exc.read()
    except TimeoutError as exc:
        raise ActivityFailed("activity took too long to complete") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ActivityFailed(f"failed to connect to {url}: {exc}") from exc
    text = raw.decode("utf-8", "replace")
    body: Any = json.loads(text) if head.get("Content-Type") == "application/json" else text
    return {"status": status, "headers": head, "body": body}


def _run_process(provider: dict[str, Any], ctx: Context) -> dict[str, Any]:
    timeout = provider.get("timeout")
    arguments = ctx.sub(provider.get("arguments") or [])
    path = shutil.which(Path(provider["path"]).expanduser())
    if path is None:
        raise ActivityFailed(f"no program {provider['path']!r} on PATH")
    shell = isinstance(arguments, str)
    if isinstance(arguments, dict):
        arguments = [x for pair in arguments.items() for x in pair]
    argv: str | list[str] = (f"{path} {arguments}" if shell
                             else [path, *(str(a) for a in arguments if a not in (None, ""))])
    try:
        proc = subprocess.run(argv, timeout=timeout, capture_output=True, shell=shell,  # noqa: S603
                              check=False)
    except subprocess.TimeoutExpired as exc:
        raise ActivityFailed("process activity took too long to complete") from exc
    return {"status": proc.returncode, "stdout": proc.stdout.decode("utf-8", "replace"),
            "stderr": proc.stderr.decode("utf-8", "replace")}


def run_hypothesis(hypothesis: dict[str, Any] | None, ctx: Context) -> dict[str, Any] | None:
    """The steady-state hypothesis' probes in order, stopping at the first that fails or misses
    its tolerance; ``{"steady_state_met": ..., "probes": [...]}`` as chaostoolkit-lib."""
    if not hypothesis:
        return None
    state: dict[str, Any] = {"steady_state_met": None, "probes": []}
    for probe in hypothesis.get("probes", []):
        run = execute_activity(probe, ctx)
        state["probes"].append(run)
        if run["status"] == "failed":
            run["tolerance_met"] = False
            state["steady_state_met"] = False
            return state
        run["tolerance_met"] = True
        if ctx.dry in ("probes", "activities"):
            continue
        activity = ctx.named.get(probe["ref"], probe) if "ref" in probe else probe
        tolerance = activity.get("tolerance")
        if isinstance(tolerance, str):
            tolerance = ctx.sub(tolerance)
        if not within_tolerance(tolerance, run["output"], lambda t, v: _probe_tolerance(t, v, ctx)):
            run["tolerance_met"] = False
            state["steady_state_met"] = False
            return state
    state["steady_state_met"] = True
    return state


def _probe_tolerance(tolerance: dict[str, Any], value: object, ctx: Context) -> bool:
    provider = dict(tolerance["provider"])
    provider["arguments"] = {**(provider.get("arguments") or {}), "value": value}
    try:
        return bool(run_activity({**tolerance, "provider": provider}, ctx))
    except ActivityFailed:
        return False

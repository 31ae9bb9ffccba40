"""The evidence providers: ``profile`` (a profile of a process, stored on a run of kind
``profile``) and ``incident`` (``perflab incident open``'s capture), for an experiment's method
or a background activity.

Each runs as ``python -m perflab ...`` in its own process group with a hard time limit, not in
the experiment's process: a capture that hangs (a stuck ptrace, a process that stopped
answering) is killed at its limit and the activity fails, instead of hanging the experiment and
its rollbacks. Their arguments are checked when the experiment is validated (``check``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from typing import TYPE_CHECKING, Any

from perflab.errors import InvalidValue
from perflab.units import parse_duration

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

MAX_PROFILE_S = 300.0
MAX_INCIDENT_PROFILE_S = 60.0   # perflab incident open --profile-duration's own bound
MAX_INCIDENT_S = 600.0
MODES = ("cpu", "wall", "offcpu")
# beyond the capture's own duration: the interpreter's start, symbolization, the store's write
STARTUP_GRACE_S = 60.0


class CaptureFailed(Exception):
    """A capture that failed, or was killed at its limit (the activity's failure)."""


def _seconds(value: object, what: str) -> float:
    try:
        return parse_duration(value) if isinstance(value, str) else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, InvalidValue):
        msg = f"{what} is a duration (10s, 1m) or a number of seconds, not {value!r}"
        raise ValueError(msg) from None


def _pid(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).isdigit() \
            or int(value) <= 0:
        msg = f"pid is a positive number, not {value!r}"
        raise ValueError(msg)
    return int(value)


def _bounded(value: object, what: str, low: float, high: float) -> float:
    seconds = _seconds(value, what)
    if not low <= seconds <= high:
        msg = f"{what} must be within {low:g}-{high:g} s, not {value!r}"
        raise ValueError(msg)
    return seconds


def _unknown(arguments: Mapping[str, Any], known: tuple[str, ...], func: str) -> None:
    extra = sorted(set(arguments) - set(known))
    if extra:
        msg = f"{func} takes no argument {extra[0]!r} (known: {', '.join(known)})"
        raise ValueError(msg)


def _check_profile(arguments: Mapping[str, Any]) -> None:
    _unknown(arguments, ("pid", "match", "duration", "mode", "rate", "store"), "profile")
    if ("pid" in arguments) == ("match" in arguments):
        msg = "profile needs one target: pid or match"
        raise ValueError(msg)
    if "pid" in arguments:
        _pid(arguments["pid"])
    elif not isinstance(arguments["match"], str) or not arguments["match"]:
        msg = "match is a text in the process' name or command line"
        raise ValueError(msg)
    _bounded(arguments.get("duration", "10s"), "duration", 0.1, MAX_PROFILE_S)
    if arguments.get("mode", "cpu") not in MODES:
        msg = f"mode is one of {', '.join(MODES)}, not {arguments['mode']!r}"
        raise ValueError(msg)
    rate = arguments.get("rate", 99)
    if isinstance(rate, bool) or not isinstance(rate, int) or not 1 <= rate <= 10_000:
        msg = f"rate is a number of samples per second (1-10000), not {rate!r}"
        raise ValueError(msg)


def _check_incident(arguments: Mapping[str, Any]) -> None:
    _unknown(arguments, ("title", "pid", "pids", "service", "profile_duration", "timeout",
                         "store"), "incident")
    if not isinstance(arguments.get("title"), str) or not arguments["title"].strip():
        msg = "incident needs a title"
        raise ValueError(msg)
    for pid in _many(arguments, "pid", "pids"):
        _pid(pid)
    _bounded(arguments.get("profile_duration", 5), "profile_duration", 0,
             MAX_INCIDENT_PROFILE_S)
    _bounded(arguments.get("timeout", "2m"), "timeout", 1, MAX_INCIDENT_S)


_CHECKS: dict[str, Callable[[Mapping[str, Any]], None]] = {
    "profile": _check_profile, "incident": _check_incident}


def check(func: str, arguments: Mapping[str, Any]) -> str | None:
    """What is wrong with ``func``'s ``arguments`` (None: nothing, or not known before the run:
    a ``${name}`` to substitute)."""
    checker = _CHECKS.get(func)
    if checker is None or "${" in json.dumps(arguments, default=str):
        return None
    try:
        checker(arguments)
    except ValueError as exc:
        return str(exc)
    return None


def _many(arguments: Mapping[str, Any], one: str, several: str) -> list[Any]:
    got = arguments.get(several, arguments.get(one, []))
    return list(got) if isinstance(got, (list, tuple)) else [got]


def _argument_error(func: str, arguments: Mapping[str, Any]) -> None:
    problem = check(func, arguments)
    if problem is not None:
        raise CaptureFailed(problem)


def run_perflab(args: list[str], limit_s: float) -> dict[str, Any]:
    """``python -m perflab ARGS --json`` in its own process group, killed (the whole group) at
    ``limit_s`` or when the caller is interrupted; answers its JSON document."""
    # our own interpreter and our own package, with the argv built here from checked values
    with subprocess.Popen([sys.executable, "-m", "perflab", *args, "--json"],  # noqa: S603
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          stdin=subprocess.DEVNULL, process_group=0) as proc:
        try:
            out, err = proc.communicate(timeout=limit_s)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            msg = f"perflab {args[0]} took longer than {limit_s:g} s: stopped"
            raise CaptureFailed(msg) from None
        except BaseException:  # Ctrl-C in the experiment: the capture goes too
            _kill_group(proc)
            raise
    if proc.returncode != 0:
        lines = err.decode("utf-8", "replace").strip().splitlines()
        said = next((line for line in lines if line.startswith("perflab: error:")),
                    lines[-1] if lines else "")
        msg = f"perflab {args[0]} exited with {proc.returncode}: {said}"
        raise CaptureFailed(msg)
    doc: dict[str, Any] = json.loads(out)
    return doc


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()


def profile(pid: int | None = None, match: str | None = None, *, duration: str | float = "10s",
            mode: str = "cpu", rate: int = 99, store: str | None = None) -> dict[str, Any]:
    """Profile one process (``pid``, or the first that ``match`` finds) for ``duration``,
    stored in slices on a new run of kind ``profile``: answers ``perflab profile --json``'s
    document (``perflab.profile-continuous/1``: the ``run``, the ``pid``, ``slices``)."""
    arguments = {k: v for k, v in {"pid": pid, "match": match, "duration": duration,
                                   "mode": mode, "rate": rate, "store": store}.items()
                 if v is not None}
    _argument_error("profile", arguments)
    target = _pid(pid) if pid is not None else _matching(str(match))
    seconds = _seconds(duration, "duration")
    args = ["profile", "capture", str(target), "--duration", f"{seconds:g}s",
            "--slice", f"{seconds:g}s", "--mode", mode, "--rate", str(rate)]
    return run_perflab([*args, *_store(store)], seconds + STARTUP_GRACE_S)


def incident(title: str, *, pid: int | None = None, pids: list[int] | None = None,
             service: str | list[str] | None = None, profile_duration: float | str = 5,
             timeout: str | float = "2m", store: str | None = None) -> dict[str, Any]:
    """Open an incident and capture its evidence (``perflab incident open``), killed at
    ``timeout``: answers its ``perflab.incident/1`` document."""
    arguments = {k: v for k, v in {"title": title, "pid": pid, "pids": pids,
                                   "profile_duration": profile_duration,
                                   "timeout": timeout}.items() if v is not None}
    _argument_error("incident", arguments)
    args = ["incident", "open", title,
            "--profile-duration", f"{_seconds(profile_duration, 'profile_duration'):g}"]
    for one in _many(arguments, "pid", "pids"):
        args += ["--pid", str(_pid(one))]
    for name in [service] if isinstance(service, str) else service or []:
        args += ["--service", str(name)]
    return run_perflab([*args, *_store(store)], _seconds(timeout, "timeout"))


def _store(store: str | None) -> list[str]:
    return ["--store", str(store)] if store else []


def _matching(text: str) -> int:
    from perflab.chaos.faults._targets import resolve_targets  # noqa: PLC0415  # lazy: faults

    return resolve_targets((), (text,), required=True)[0].pid

"""perflab's activities for Chaos Toolkit experiments, usable two ways:

- ``provider: {type: python, module: perflab.chaos.providers, func: add_toxic, arguments: ...}``
  (Chaos Toolkit itself can run these too);
- ``provider: {type: perflab, func: add_toxic, arguments: ...}``.

``inject(kind, ...)`` is the one entry for faults: proxy toxics here; other kinds go to the
injector registered with ``register_injector`` (process, resource and network faults), so the
experiment runner does not depend on how each fault is made.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any

from perflab.chaos._captures import check, incident, profile
from perflab.chaos._toxics import TOXIC_ATTRIBUTES

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

DEFAULT_API = "http://127.0.0.1:8474"

_INJECTORS: dict[str, Callable[[str, Mapping[str, Any]], Any]] = {}

__all__ = ["DEFAULT_API", "ProviderError", "add_toxic", "argument_problem", "function",
           "incident", "inject", "load_test", "profile", "promql", "register_injector",
           "remove_toxic"]


class ProviderError(Exception):
    """A perflab provider could not act (recorded as the activity's failure)."""


def _api(method: str, url: str, body: object | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method,  # noqa: S310
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            raw = response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")
        msg = f"{method} {url}: {exc.code} {detail}"
        raise ProviderError(msg) from exc
    except OSError as exc:
        msg = f"{method} {url}: {exc} (is `perflab chaos proxy` running?)"
        raise ProviderError(msg) from exc
    return json.loads(raw) if raw else None


def add_toxic(proxy: str, type: str, *, attributes: dict[str, Any] | None = None,  # noqa: A002
              name: str | None = None, stream: str = "downstream", toxicity: float = 1.0,
              duration: str | None = None, api: str = DEFAULT_API) -> dict[str, Any]:
    """Add a toxic to ``proxy`` through the Toxiproxy API at ``api``; answers the toxic."""
    body: dict[str, Any] = {"type": type, "stream": stream, "toxicity": toxicity,
                            "attributes": attributes or {}}
    if name:
        body["name"] = name
    if duration:
        body["duration"] = duration
    result: dict[str, Any] = _api("POST", f"{api}/proxies/{proxy}/toxics", body)
    return result


def remove_toxic(proxy: str, name: str, *, api: str = DEFAULT_API) -> None:
    """Remove the toxic ``name`` from ``proxy``."""
    _api("DELETE", f"{api}/proxies/{proxy}/toxics/{name}")


def load_test(url: str, *, duration: str = "5s", connections: int = 4, rate: str | None = None,
              thresholds: list[str] | None = None, store: str | None = None,
              name: str | None = None) -> dict[str, Any]:
    """Run a load test (``perflab load run``'s engine, recorded in the store) and answer its
    summary (docs/schemas/load.schema.json's) with ``thresholds_met``: as a steady-state probe,
    ``tolerance: {type: jsonpath, path: $.thresholds_met, expect: true}`` or a ``range`` on
    ``latency_ms.p99`` / ``error_rate`` (``target``)."""
    from perflab.load import RunOptions, execute  # noqa: PLC0415  # lazy: load is heavy
    from perflab.units import parse_duration  # noqa: PLC0415

    options = RunOptions(url=url, duration_s=parse_duration(duration), connections=connections,
                         rate=rate, thresholds=tuple(thresholds or ()), store_path=store,
                         name=name or f"chaos probe {url}", live=False)
    outcome = execute(options)
    if outcome.result is None:
        msg = f"the load test of {url} measured nothing ({outcome.scenario_error or 'stopped'})"
        raise ProviderError(msg)
    summary: dict[str, Any] = dict(outcome.result.to_json())
    summary["thresholds_met"] = all(t["passed"] for t in summary["thresholds"])
    return summary


def promql(query: str, store: str | None = None) -> Any:
    """Evaluate a PromQL ``query`` now over the store (perflab's PromQL evaluator): a scalar or a
    one-series vector answers a number (for a ``range`` tolerance), a wider vector a list of
    ``{"metric": labels, "value": v}``, an empty one ``None``."""
    import time  # noqa: PLC0415

    from perflab.metrics import StoreQueryable, instant_query  # noqa: PLC0415  # lazy: heavy
    from perflab.store import Store  # noqa: PLC0415

    db = Store.open(store, create=False)
    try:
        result = instant_query(StoreQueryable(db), query, time.time_ns() // 1_000_000)
    finally:
        db.close()
    if result.type == "scalar":
        return result.scalar
    if result.type == "string":
        return result.string
    if result.type == "vector" and len(result.vector) <= 1:
        return result.vector[0][1] if result.vector else None
    rows = result.vector if result.type == "vector" else [
        (labels, points[-1][1]) for labels, points in result.matrix]
    return [{"metric": dict(labels), "value": value} for labels, value in rows]


def _fault(kind: str, params: Mapping[str, Any]) -> Any:
    """A process or resource fault (``perflab chaos inject KIND``'s engine), held
    for its ``duration`` (``"30s"`` or seconds) and rolled back before this returns. Params:
    ``pid``/``pids``, ``match``/``matches``, ``duration``, ``size`` ("512M"), ``path``,
    ``signal``, ``restart_cmd``, ``workers``, ``engine``, ``headroom``, ``store``, ``run``."""
    from pathlib import Path  # noqa: PLC0415

    from perflab.chaos.faults import InjectSpec  # noqa: PLC0415
    from perflab.chaos.faults import inject as inject_fault  # noqa: PLC0415
    from perflab.store import default_store_path  # noqa: PLC0415
    from perflab.units import parse_duration, parse_size  # noqa: PLC0415

    def many(one: str, several: str) -> tuple[Any, ...]:
        got = params.get(several, params.get(one, ()))
        return tuple(got) if isinstance(got, (list, tuple)) else (got,)

    duration = params.get("duration", 0)
    size = params.get("size")
    try:
        spec = InjectSpec(
            kind, parse_duration(duration) if isinstance(duration, str) else float(duration),
            pids=tuple(int(p) for p in many("pid", "pids")),
            matches=tuple(str(m) for m in many("match", "matches")),
            signal=params.get("signal"), restart_cmd=params.get("restart_cmd"),
            workers=int(params.get("workers", 1)),
            size=parse_size(size) if isinstance(size, str) else size,
            path=Path(params["path"]) if params.get("path") else None,
            engine=params.get("engine", "auto"), headroom=int(params.get("headroom", 0)))
    except (TypeError, ValueError) as exc:
        msg = f"bad parameters for the {kind} fault: {exc}"
        raise ProviderError(msg) from None
    store = params.get("store")
    return inject_fault(spec, Path(store) if store else default_store_path(),
                        run_id=params.get("run"))


def register_injector(kinds: tuple[str, ...],
                      injector: Callable[[str, Mapping[str, Any]], Any]) -> None:
    """Let ``inject`` hand the fault ``kinds`` to ``injector(kind, params)``."""
    for kind in kinds:
        _INJECTORS[kind] = injector


def inject(kind: str, **params: Any) -> Any:
    """Inject the fault ``kind``: a proxy toxic (``proxy`` and the toxic's attributes as
    params), or a fault of a registered injector."""
    if kind in TOXIC_ATTRIBUTES:
        proxy = params.pop("proxy", None)
        if not isinstance(proxy, str):
            msg = f"a {kind} toxic needs proxy: NAME"
            raise ProviderError(msg)
        api = params.pop("api", DEFAULT_API)
        keys = ("name", "stream", "toxicity", "duration")
        options = {k: params.pop(k) for k in keys if k in params}
        return add_toxic(proxy, kind, attributes=params, api=api, **options)
    # process and resource faults are chaos inject's, imported only when one is asked for:
    # `chaos proxy` and `serve --chaos` import this module and need none of it
    from perflab.chaos.faults import FAULT_KINDS  # noqa: PLC0415

    injector = _INJECTORS.get(kind) or (_fault if kind in FAULT_KINDS else None)
    if injector is None:
        known = sorted({*TOXIC_ATTRIBUTES, *_INJECTORS, *FAULT_KINDS})
        msg = f"no fault {kind!r} here (known: {', '.join(known)})"
        raise ProviderError(msg)
    return injector(kind, params)


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "add_toxic": add_toxic, "remove_toxic": remove_toxic, "inject": inject,
    "load_test": load_test, "promql": promql, "profile": profile, "incident": incident}


def function(name: str) -> Callable[..., Any]:
    """The perflab provider ``name`` (``type: perflab``'s ``func``)."""
    try:
        return _FUNCTIONS[name]
    except KeyError:
        msg = f"no perflab provider {name!r} (known: {', '.join(sorted(_FUNCTIONS))})"
        raise ProviderError(msg) from None


def argument_problem(func: str, arguments: Mapping[str, Any]) -> tuple[str, str] | None:
    """What validation can tell is wrong with ``type: perflab``'s ``func`` and ``arguments``
    before the experiment runs: (the field at fault, the message), or None."""
    if func not in _FUNCTIONS:
        return "func", f"no perflab provider {func!r} (known: {', '.join(sorted(_FUNCTIONS))})"
    problem = check(func, arguments)
    return None if problem is None else ("arguments", problem)

"""Options and output helpers shared by the commands."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any, TypeVar

import click

from perflab.errors import InvalidValue
from perflab.units import parse_duration

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from perflab.store import Store

F = TypeVar("F", bound="Callable[..., Any]")


def store_option(f: F) -> F:
    """``--store PATH``: the store file (default ``$PERFLAB_STORE`` or the XDG data dir)."""
    return click.option(
        "--store", "store_path", type=click.Path(dir_okay=False), default=None,
        envvar="PERFLAB_STORE", show_envvar=True,
        help="Store file (default: $XDG_DATA_HOME/perflab/perflab.db).",
    )(f)


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True,
                        help="Print the result as JSON (schema in docs/schemas/).")(f)


def open_store(path: str | None, *, create: bool = True) -> Store:
    from perflab.store import Store  # noqa: PLC0415  # lazy: keeps --help fast

    return Store.open(path, create=create)


class DurationType(click.ParamType):  # type: ignore[type-arg]  # generic only in stubs
    """A click type for durations with units (``250ms``, ``1m``); the value is seconds.

    ``positive``: zero is refused too, in perflab's own words (an interval or a time to trace
    of 0 s means nothing, and would otherwise surface later as an odd error or an empty result).
    """

    name = "duration"

    def __init__(self, *, positive: bool = False) -> None:
        self.positive = positive

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> float:
        if isinstance(value, (int, float)):
            seconds = float(value)
        else:
            try:
                seconds = parse_duration(str(value))
            except InvalidValue as err:
                self.fail(f"{err.message}; {err.hint}" if err.hint else err.message, param, ctx)
        if self.positive and seconds <= 0:
            name = _option_name(param)
            raise InvalidValue(f"{name} must be longer than zero", hint=f"e.g. {name} 1s")
        return seconds


def _option_name(param: click.Parameter | None) -> str:
    if param is None:
        return "the duration"
    long = [o for o in param.opts if o.startswith("--")]
    return (long or param.opts or [param.name or "the duration"])[0]


DURATION = DurationType()
POSITIVE_DURATION = DurationType(positive=True)  # an interval, a timeout, a time to trace


def emit_json(schema: str, payload: dict[str, Any]) -> None:
    """Print one JSON document whose first key names its schema (``perflab.<what>/<version>``)."""
    emit_doc({"schema": schema, **payload})


def emit_doc(doc: Mapping[str, object]) -> None:
    """Print one JSON document built to its contract (a TypedDict of a ``_contracts.py``, whose
    first key ``schema`` names it: ``perflab.<what>/<version>``)."""
    sys.stdout.write(json.dumps(doc, indent=2, default=_json_default) + "\n")


def _json_default(o: Any) -> Any:
    if hasattr(o, "to_json"):
        return o.to_json()
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, (set, frozenset)):
        return sorted(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


# The store holds times as signed 64-bit nanoseconds since the epoch: 1677-09-21 to 2262-04-11.
_NS_MIN = -(2**63)
_NS_MAX = 2**63 - 1


def checked_ns(value: int, option: str, text: str, *, hint: str) -> int:
    """``value`` (ns since the epoch, parsed from ``text``), or a usage error when the store
    cannot hold it: a time before 1677 or after 2262 is a typo, not a query to run."""
    if not _NS_MIN <= value <= _NS_MAX:
        shown = text if len(text) <= 80 else text[:80] + "..."
        raise InvalidValue(f"{option} {shown!r} is out of range (before 1677 or after 2262)",
                           hint=hint)
    return value


def parse_labels(items: tuple[str, ...], what: str = "label") -> dict[str, str]:
    """``key=value`` pairs (``--label``, ``--tag``) as a dict; ``what`` names them in errors."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidValue(f"invalid {what} {item!r}", hint="write it as key=value")
        out[key] = value
    return out

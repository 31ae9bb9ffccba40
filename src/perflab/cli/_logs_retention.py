"""The log retention options of ``perflab serve``, named as the spans' (``--trace-retention``,
``--trace-max-size``) and the metrics' (``--metrics-retention``) are: lines older than
``--logs-retention`` go, and with ``--logs-max-size`` the oldest beyond about that much space."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from perflab.cli._common import POSITIVE_DURATION
from perflab.errors import InvalidValue

if TYPE_CHECKING:
    from collections.abc import Callable

    from perflab.logs import Retention


def logs_retention_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("--logs-max-size", default=None, metavar="SIZE",
                     help="Keep log lines under about this much space (oldest go first), "
                          "e.g. 2GB.")(f)
    return click.option("--logs-retention", type=POSITIVE_DURATION, default="7d",
                        show_default=True, help="Delete log lines older than this.")(f)


def logs_retention(options: dict[str, Any]) -> Retention:
    """The retention the options ask for (a bad size is exit 2, before anything opens)."""
    from perflab.logs import Retention  # noqa: PLC0415  # lazy: keeps `perflab --help` fast
    from perflab.units import parse_size  # noqa: PLC0415

    max_bytes = None
    if options.get("logs_max_size"):
        max_bytes = parse_size(options["logs_max_size"])
        if max_bytes <= 0:
            raise InvalidValue(f"--logs-max-size {options['logs_max_size']!r} keeps nothing",
                               hint="give a size like 2GB, or leave it out for no limit")
    return Retention(max_age_ns=int(options["logs_retention"] * 1e9), max_bytes=max_bytes)

"""Go's ``text/template``, the one engine behind Prometheus's alert templates
(``perflab.metrics``) and LogQL's ``line_format``/``label_format`` (``perflab.logs``); each
brings its own functions.

- ``parse(text, dialect)``: the tree, or ``ParseError`` (its message and 0-based offset).
  A ``Dialect`` names the user (in refusals), reads string literals, and may list its
  functions so that an unknown one is refused when the template is read.
- ``execute(nodes, data, funcs, passthrough=...)``: the output, or ``ExecError``.
- ``go_str`` (``fmt.Sprint``), ``go_type``, ``truth`` (Go's ``if``), ``fields_of``,
  ``MISSING`` (Go's ``<no value>``); ``format_float_g`` and ``format_float_f`` (a float64 as
  Go prints it with ``%v`` and with ``'f'``).
"""

from __future__ import annotations

from perflab.gotemplate._gofloat import format_float_f, format_float_g
from perflab.gotemplate._parse import MAX_TEXT, Dialect, Node, ParseError, parse
from perflab.gotemplate._run import (
    MAX_STEPS,
    MISSING,
    ExecError,
    FunctionMap,
    execute,
    fields_of,
    go_str,
    go_type,
    truth,
)

__all__ = [
    "MAX_STEPS",
    "MAX_TEXT",
    "MISSING",
    "Dialect",
    "ExecError",
    "FunctionMap",
    "Node",
    "ParseError",
    "execute",
    "fields_of",
    "format_float_f",
    "format_float_g",
    "go_str",
    "go_type",
    "parse",
    "truth",
]

"""Running a parsed Go template: values print as Go's ``fmt.Sprint`` prints them, ``if`` and
``with`` test Go's truth, ``range`` walks a list, a map (by key) or a count, variables live in
the block that declares them. The caller's functions come as a map (anything with ``get``);
the value piped in is a call's last argument, as in Go."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from perflab.gotemplate._gofloat import format_float_g
from perflab.gotemplate._parse import MAX_TEXT, Const, Node, Operand, Pipe, Tok, show_operand

MAX_STEPS = 100_000   # actions one expansion may run (a range over a big query ...)


class ExecError(ValueError):
    """A template that fails while it runs (a missing function, a bad field, a failed call)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class FunctionMap(Protocol):
    def get(self, name: str, /) -> Callable[..., Any] | None: ...


class _Missing:
    def __str__(self) -> str:
        return "<no value>"


MISSING = _Missing()  # a map's key that is not there (Go's zero of interface{})


def go_str(value: Any) -> str:
    """``fmt.Sprint(value)``: a map as ``map[k:v ...]`` by key, a list as ``[a b]``."""
    if value is None or value is MISSING:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format_float_g(value)
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_str(v)}" for k, v in sorted(value.items())) + "]"
    if isinstance(value, list):
        return "[" + " ".join(go_str(v) for v in value) + "]"
    return str(value)


def go_type(value: Any) -> str:
    """How Go names the type of a value a template holds."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, list):
        return "[]interface {}"
    return type(value).__name__


def truth(value: Any) -> bool:
    """Go's ``if``: false, 0, "", an empty map or list and nil are false."""
    if value is None or value is MISSING:
        return False
    if isinstance(value, (bool, int, float)):
        return bool(value)
    if isinstance(value, (str, list, dict, tuple)):
        return len(value) > 0
    return True


@dataclass
class _State:
    funcs: FunctionMap
    passthrough: tuple[type[Exception], ...]
    out: list[str] = field(default_factory=list)
    steps: int = 0
    size: int = 0


_CALL_ERRORS = (TypeError, ValueError, IndexError, KeyError, ZeroDivisionError, OverflowError,
                re.error)


def execute(nodes: list[Node] | tuple[Node, ...], data: Any, funcs: FunctionMap, *,
            passthrough: tuple[type[Exception], ...] = ()) -> str:
    """The template's output for ``data`` (dot and ``$``). A function raising one of
    ``passthrough`` stops it with that error as it is; another error of a call is an
    ``ExecError`` naming the function."""
    state = _State(funcs, passthrough)
    _run(state, nodes, data, [{"$": data}])
    return "".join(state.out)


def _emit(state: _State, text: str) -> None:
    state.size += len(text)
    if state.size > MAX_TEXT:
        raise ExecError("the template's output is too long")
    state.out.append(text)


def _run(state: _State, nodes: list[Node] | tuple[Node, ...], dot: Any,
         scopes: list[dict[str, Any]]) -> None:
    for node in nodes:
        state.steps += 1
        if state.steps > MAX_STEPS:
            raise ExecError("the template runs too long")
        if node.kind == "text":
            _emit(state, node.text)
            continue
        assert node.pipe is not None
        if node.kind == "action":
            value = _pipe(state, node.pipe, dot, scopes)
            if not node.pipe.decl:
                _emit(state, go_str(value))
        elif node.kind == "if":
            value = _pipe(state, node.pipe, dot, scopes)
            _run(state, node.body if truth(value) else node.orelse, dot, [*scopes, {}])
        elif node.kind == "with":
            inner = [*scopes, {}]
            value = _pipe(state, node.pipe, dot, inner)
            if truth(value):
                _run(state, node.body, value, inner)
            else:
                _run(state, node.orelse, dot, [*scopes, {}])
        else:
            _range(state, node, dot, scopes)


def _range(state: _State, node: Node, dot: Any, scopes: list[dict[str, Any]]) -> None:
    assert node.pipe is not None
    decl = node.pipe.decl
    value = _pipe(state, Pipe((), assign=False, cmds=node.pipe.cmds), dot, scopes)
    items: list[tuple[Any, Any]]
    if isinstance(value, dict):
        items = [(k, value[k]) for k in sorted(value)]
    elif isinstance(value, (list, tuple)):
        items = list(enumerate(value))
    elif isinstance(value, int) and not isinstance(value, bool):
        items = [(i, i) for i in range(value)]
    elif value is None or value is MISSING:
        items = []
    else:
        raise ExecError(f"range can't iterate over {go_str(value)}")
    if not items:
        _run(state, node.orelse, dot, [*scopes, {}])
    for key, item in items:
        scope: dict[str, Any] = {}
        if len(decl) == 1:
            scope[decl[0]] = item
        elif len(decl) == 2:  # $key, $value
            scope[decl[0]], scope[decl[1]] = key, item
        _run(state, node.body, item, [*scopes, scope])


def _pipe(state: _State, pipe: Pipe, dot: Any, scopes: list[dict[str, Any]]) -> Any:
    value: Any = MISSING
    for i, cmd in enumerate(pipe.cmds):
        value = _command(state, cmd, dot, scopes, value, piped=i > 0)
    if pipe.decl:
        name = pipe.decl[-1]
        if pipe.assign:
            for scope in reversed(scopes):
                if name in scope:
                    scope[name] = value
                    break
            else:
                raise ExecError(f"undefined variable: {name}")
        else:
            scopes[-1][name] = value
    return value


def _command(state: _State, cmd: tuple[Operand, ...], dot: Any, scopes: list[dict[str, Any]],
             piped_value: Any, *, piped: bool) -> Any:
    head = cmd[0]
    if isinstance(head, Tok) and head.kind == "func":
        fn = state.funcs.get(head.text)
        if fn is None:
            raise ExecError(f'function "{head.text}" not defined')
        args = [_operand(state, a, dot, scopes) for a in cmd[1:]]
        if piped:
            args.append(piped_value)
        try:
            return fn(*args)
        except state.passthrough:
            raise
        except ExecError:
            raise
        except _CALL_ERRORS as exc:
            raise ExecError(f"error calling {head.text}: {exc}") from None
    if len(cmd) > 1 or piped:
        raise ExecError(f"can't give argument to non-function {show_operand(head)}")
    return _operand(state, head, dot, scopes)


def _operand(state: _State, op: Operand, dot: Any, scopes: list[dict[str, Any]]) -> Any:
    if isinstance(op, Const):
        return op.value
    if isinstance(op, Pipe):
        return _pipe(state, op, dot, scopes)
    kind, text = op.kind, op.text
    if kind == "field":
        return fields_of(dot, text.split(".")[1:] if text != "." else [])
    if kind == "var":
        name, *rest = text.split(".")
        for scope in reversed(scopes):
            if name in scope:
                return fields_of(scope[name], rest)
        raise ExecError(f"undefined variable: {name}")
    if kind == "func":  # a function as an argument: called without arguments
        return _command(state, (op,), dot, scopes, None, piped=False)
    raise ExecError(f'function "{text}" not defined')  # a.b: no such function


def fields_of(value: Any, names: list[str]) -> Any:
    """``value.a.b``: a map's key (a map of strings gives "" for a key it lacks, as a missing
    label prints; another map gives Go's ``<no value>``), or a struct's field."""
    for name in names:
        if isinstance(value, dict):
            value = value.get(name, "" if all(isinstance(v, str) for v in value.values())
                              else MISSING)
        elif value is None or value is MISSING:
            raise ExecError(f"nil pointer evaluating .{name}")
        elif dataclasses.is_dataclass(value) and not isinstance(value, type) and \
                name in {f.name for f in dataclasses.fields(value)}:
            value = getattr(value, name)
        else:
            raise ExecError(f"can't evaluate field {name} in type {go_type(value)}")
    return value

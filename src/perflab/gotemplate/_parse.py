"""Reading a Go ``text/template``: actions, pipelines, ``if``/``with``/``range`` (with
``else``, ``else if``, ``else with``), variables (``$x :=``, ``$x =``, ``range $i, $v :=``),
parenthesised pipelines, ``{{-``/``-}}`` trimming and comments. A ``Dialect`` says what the
user of the engine adds: its function names (checked when the template is read, or at run
time), how it reads a string literal, and what it calls itself in a refusal."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

MAX_TEXT = 1 << 20  # characters of a template, and of what one expansion produces


class ParseError(ValueError):
    """A template that does not parse; ``offset`` is 0-based in the template's text."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


@dataclass(frozen=True, slots=True)
class Dialect:
    """What a user of the engine (alert templates, LogQL's formats) brings to it."""

    where: str                                   # "in alert templates": in a refusal
    unquote: Callable[[str], str]                # a "..." literal (quotes included)
    functions: Collection[str] | None = None     # names known when parsing (None: at run time)
    else_with: bool = True  # Go 1.23's {{else with}} (and an else-chain in a with)


_TOKEN = re.compile(r"""
    \s*(?:
      (?P<str>"(?:[^"\\]|\\.)*")
    | (?P<raw>`[^`]*`)
    | (?P<char>'(?:[^'\\]|\\.)+')
    | (?P<num>[+-]?(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?))
    | (?P<decl>:=)
    | (?P<assign>=)
    | (?P<var>\$[A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)
    | (?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+|\.)
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)
    | (?P<punct>[()|,])
    )""", re.VERBOSE)


_WORDS = {"true": True, "false": False, "nil": None}


@dataclass(frozen=True, slots=True)
class Tok:
    kind: str   # func var field ident (a.b) decl assign punct
    text: str
    at: int     # offset in the template


@dataclass(frozen=True, slots=True)
class Const:
    """A literal, read when the template is parsed."""

    value: Any
    text: str
    at: int


@dataclass(frozen=True, slots=True)
class Pipe:
    decl: tuple[str, ...]
    assign: bool
    cmds: tuple[tuple[Operand, ...], ...]   # each command: its operands


Operand = Tok | Const | Pipe


@dataclass(slots=True)
class Node:
    kind: str                      # text, action, if, range, with
    text: str = ""
    pipe: Pipe | None = None
    body: list[Node] = field(default_factory=list)
    orelse: list[Node] = field(default_factory=list)


def _tokens(action: str, base: int, dialect: Dialect) -> list[Tok | Const]:
    out: list[Tok | Const] = []
    pos = 0
    while pos < len(action):
        m = _TOKEN.match(action, pos)
        if m is None or m.end() == pos:
            if action[pos:].strip() == "":
                break
            rest = action[pos:].lstrip()
            at = base + len(action) - len(rest)
            raise ParseError(f"unexpected {rest[:10]!r} in action", at)
        kind = m.lastgroup or ""
        text = m.group(kind)
        at = base + m.start(kind)
        if kind in ("str", "raw", "char", "num"):
            out.append(Const(_literal(kind, text, at, dialect), text, at))
        elif kind == "ident" and text in _WORDS:
            out.append(Const(_WORDS[text], text, at))
        elif kind == "ident" and "." not in text:
            out.append(Tok("func", text, at))  # a function's name: called when it is run
        else:
            out.append(Tok(kind, text, at))
        pos = m.end()
    return out


def _literal(kind: str, text: str, at: int, dialect: Dialect) -> Any:
    if kind == "raw":
        return text[1:-1]
    try:
        if kind == "str":
            return dialect.unquote(text)
        if kind == "char":
            return ord(dialect.unquote('"' + text[1:-1] + '"')[:1] or "\0")
    except ValueError as exc:
        raise ParseError(f"invalid string {text[:40]}: {exc}", at) from None
    if re.fullmatch(r"[+-]?(0[xX][0-9a-fA-F]+|\d+)", text):
        try:
            return int(text, 0)
        except ValueError:  # Go reads a leading 0 as octal
            return int(text, 8)
    return float(text)


_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.DOTALL)


@dataclass(slots=True)
class _Piece:
    kind: str      # text, action
    text: str
    at: int        # where the action's body starts (text: where the text starts)
    start: int = 0  # where the action's {{ is


def parse(text: str, dialect: Dialect) -> list[Node]:
    """The template's tree; ``ParseError`` says what is wrong and where."""
    if len(text) > MAX_TEXT:
        raise ParseError("the template is too long", 0)
    pieces: list[_Piece] = []
    pos = 0
    trim_next = False
    for m in _ACTION.finditer(text):
        chunk = text[pos:m.start()]
        if m.group(1):
            chunk = chunk.rstrip()
        if trim_next:
            chunk = chunk.lstrip()
        pieces.append(_Piece("text", chunk, pos))
        pieces.append(_Piece("action", m.group(2), m.start(2), m.start()))
        trim_next = bool(m.group(3))
        pos = m.end()
    tail = text[pos:]
    if "{{" in tail:
        raise ParseError("unclosed action", pos + tail.index("{{"))
    pieces.append(_Piece("text", tail.lstrip() if trim_next else tail, pos))
    nodes, rest, end = _Parser(pieces, dialect).nodes(0)
    if end is not None:
        raise ParseError(f"unexpected {{{{{end[1].split(None, 1)[0]}}}}}", end[0])
    assert rest == len(pieces)
    return nodes


class _Parser:
    def __init__(self, pieces: list[_Piece], dialect: Dialect) -> None:
        self.pieces = pieces
        self.dialect = dialect
        self.scopes: list[set[str]] = [{"$"}]  # variables declared, by open block (as Go)

    def nodes(self, i: int) -> tuple[list[Node], int, tuple[int, str] | None]:
        """Nodes up to an ``end``/``else`` (returned as (where, its words)) or the end."""
        out: list[Node] = []
        while i < len(self.pieces):
            piece = self.pieces[i]
            i += 1
            if piece.kind == "text":
                if piece.text:
                    out.append(Node("text", text=piece.text))
                continue
            body = piece.text.strip()
            if body.startswith("/*"):
                if not body.endswith("*/"):
                    raise ParseError("unclosed comment", piece.start)
                continue
            word = body.split(None, 1)[0] if body else ""
            if word in ("end", "else"):
                return out, i, (piece.start, body)
            if word in ("if", "range", "with"):
                node, i = self.block(word, piece, i)
                out.append(node)
                continue
            if word in ("define", "template", "block", "break", "continue"):
                raise ParseError(f"{{{{{word}}}}} is not supported {self.dialect.where}",
                                 piece.at + piece.text.index(word))
            out.append(Node("action", pipe=self.pipe(piece.text, piece.at, allow_decl=True,
                                                     start=piece.start)))
        return out, i, None

    def block(self, word: str, piece: _Piece, i: int) -> tuple[Node, int]:
        after = piece.at + piece.text.index(word) + len(word)
        self.scopes.append(set())  # what the block declares lives until its {{end}}
        root = node = Node(word, pipe=self.control_pipe(word, piece, after))
        node.body, i, end = self.nodes(i)
        seen_else = False
        while end is not None and end[1].split(None, 1)[0] == "else":
            if seen_else:
                raise ParseError("unexpected {{else}} after {{else}}", end[0])
            seen_else = True
            rest = end[1][4:].strip()
            if rest:
                inner_word = rest.split(None, 1)[0]
                else_piece = self.pieces[i - 1]
                word_at = else_piece.at + else_piece.text.index(rest)
                if not self.dialect.else_with and word == "with":
                    raise ParseError("expected {{end}} or {{else}} in a with", word_at)
                if inner_word not in ("if", "with") or (
                        inner_word == "with" and not self.dialect.else_with):
                    raise ParseError("expected 'else' or 'else if cond'", word_at)
                after = else_piece.at + else_piece.text.index(inner_word) + len(inner_word)
                inner = Node(inner_word, pipe=self.control_pipe(inner_word, else_piece, after))
                inner.body, i, end = self.nodes(i)
                node.orelse = [inner]
                node = inner
                seen_else = False
                continue
            node.orelse, i, end = self.nodes(i)
        if end is None:
            raise ParseError(f"unexpected EOF: an {{{{{word}}}}} without {{{{end}}}}",
                             piece.start)
        if end[1] != "end":
            raise ParseError("unexpected words after end", end[0])
        self.scopes.pop()
        return root, i

    def control_pipe(self, word: str, piece: _Piece, after: int) -> Pipe:
        body = piece.text[after - piece.at:]
        if not body.strip():
            raise ParseError(f"missing value for {word}", piece.start)
        return self.pipe(body, after, allow_decl=word != "if", start=piece.start)

    def pipe(self, action: str, base: int, *, allow_decl: bool, start: int) -> Pipe:
        return self.pipe_of(_tokens(action, base, self.dialect), allow_decl=allow_decl,
                            end=base + len(action), start=start)

    def pipe_of(self, tokens: list[Tok | Const], *, allow_decl: bool, end: int,
                start: int) -> Pipe:
        decl, assign, tokens = _declaration(tokens, allow_decl=allow_decl)
        cmds: list[list[Operand]] = [[]]
        i = 0
        while i < len(tokens):
            t = tokens[i]
            if isinstance(t, Tok) and t.kind == "punct" and t.text == "|":
                if not cmds[-1]:
                    raise ParseError("missing value for command", t.at)
                cmds.append([])
                i += 1
                continue
            if isinstance(t, Tok) and t.kind == "punct" and t.text == "(":
                j = _closing(tokens, i)
                inner_end = tokens[j - 1].at
                cmds[-1].append(self.pipe_of(tokens[i + 1:j - 1], allow_decl=False,
                                             end=inner_end, start=start))
                i = j
                continue
            if isinstance(t, Tok) and t.kind in ("punct", "decl", "assign"):
                if t.text == ")" and not cmds[-1]:
                    raise ParseError("missing value for command", t.at)
                raise ParseError(f"unexpected {t.text!r}", t.at)
            cmds[-1].append(t)
            i += 1
        if not cmds[-1]:
            at = end if len(cmds) > 1 or tokens else start
            raise ParseError("missing value for command", at)
        for cmd in cmds:
            self.check_command(cmd)
        if assign:
            self.check_variable(decl[-1], start)
        else:
            self.scopes[-1].update(decl)
        return Pipe(decl, assign, tuple(tuple(c) for c in cmds))

    def check_variable(self, text: str, at: int) -> None:
        name = text.split(".", 1)[0]
        if not any(name in scope for scope in self.scopes):
            raise ParseError(f'undefined variable "{name}"', at)

    def check_command(self, cmd: list[Operand]) -> None:
        for op in cmd:
            if isinstance(op, Tok) and op.kind == "var":
                self.check_variable(op.text, op.at)
        head = cmd[0]
        if is_function(head):
            assert isinstance(head, Tok)
            known = self.dialect.functions
            if known is not None and head.text not in known:
                raise ParseError(f'function "{head.text}" not defined', head.at)
            for op in cmd[1:]:
                if isinstance(op, Tok) and is_function(op) and known is not None and \
                        op.text not in known:
                    raise ParseError(f'function "{op.text}" not defined', op.at)
            return
        if len(cmd) > 1:
            nxt = cmd[1]
            at = nxt.at if isinstance(nxt, (Tok, Const)) else -1
            raise ParseError(f"can't give argument to non-function {show_operand(head)}", at)


def _declaration(tokens: list[Tok | Const], *, allow_decl: bool,
                 ) -> tuple[tuple[str, ...], bool, list[Tok | Const]]:
    """A declaration (``$x :=``, or ``$i, $v :=`` in a range) or an assignment (``$x =``)
    at the start of a pipeline: (its variables, whether it assigns, the rest)."""
    for n in (1, 3):
        if len(tokens) > n and isinstance(tokens[0], Tok) and tokens[0].kind == "var":
            op = tokens[n]
            if isinstance(op, Tok) and op.kind in ("decl", "assign"):
                if not allow_decl:
                    raise ParseError("declarations are not allowed here", tokens[0].at)
                names = tuple(t.text for t in tokens[:n] if isinstance(t, Tok) and
                              t.kind == "var")
                return names, op.kind == "assign", tokens[n + 1:]
    return (), False, tokens


def _closing(tokens: list[Tok | Const], i: int) -> int:
    """Just past the ``)`` that closes the ``(`` at ``i``."""
    depth, j = 1, i + 1
    while j < len(tokens) and depth:
        u = tokens[j]
        if isinstance(u, Tok) and u.kind == "punct" and u.text in "()":
            depth += 1 if u.text == "(" else -1
        j += 1
    if depth:
        assert isinstance(tokens[i], Tok)
        raise ParseError("unclosed '('", tokens[i].at)
    return j


def is_function(op: Operand) -> bool:
    return isinstance(op, Tok) and op.kind == "func"


def show_operand(op: Operand) -> str:
    if isinstance(op, (Tok, Const)):
        return op.text
    return "(...)"

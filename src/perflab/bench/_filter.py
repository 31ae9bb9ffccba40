"""``-filter`` expressions, the subset of benchstat's syntax that benchmarks need.

    key:value   key:"quoted value"   key:/regexp/   key:(a OR b OR /re/)   *
    x y  (and)   x AND y   x OR y   -x  (not)   ( ... )

Keys: ``.name``, ``.fullname``, ``.file``, ``.unit``, ``/subkey`` (from the benchmark name),
or a file configuration key (``goos``). A filter is evaluated for each measurement (result and
unit), so ``.unit:ns/op`` keeps only that unit of each result.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from perflab.bench._model import Result, name_parts
from perflab.errors import InvalidValue

# (result, unit of the measurement, unit as written in the input) -> keep?
Predicate = Callable[[Result, str, str], bool]

_HINT = 'write terms as key:value, key:/regexp/ or key:(a OR b); e.g. ".unit:sec/op /size:1kB"'


def field_value(result: Result, unit: str, key: str) -> str:
    """The value of a projection/filter key for one measurement."""
    if key == ".unit":
        return unit
    if key == ".file":
        return result.file
    if key in (".name", ".fullname") or key.startswith("/"):
        base, parts = name_parts(result.name)
        if key == ".name":
            return base
        if key == ".fullname":
            return result.name
        for part in parts:
            if part.key == key:
                return part.value
        return ""
    for k, v in result.config:
        if k == key:
            return v
    return ""


@dataclass
class _Lexer:
    text: str
    pos: int = 0

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self) -> str:
        self.skip_space()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def word(self) -> str:
        """A bare word, a "quoted string" or a /regexp/ (returned with its slashes)."""
        self.skip_space()
        t = self.text
        if self.pos >= len(t):
            raise InvalidValue(f"filter {t!r}: expression ends too early", hint=_HINT)
        if t[self.pos] == '"':
            end = self.pos + 1
            while end < len(t) and t[end] != '"':
                end += 2 if t[end] == "\\" else 1
            if end >= len(t):
                raise InvalidValue(f"filter {t!r}: unterminated string", hint=_HINT)
            word = t[self.pos + 1:end].replace('\\"', '"').replace("\\\\", "\\")
            self.pos = end + 1
            return word
        if t[self.pos] == "/" and self._regexp_ahead():
            end = t.index("/", self.pos + 1)
            word = t[self.pos:end + 1]
            self.pos = end + 1
            return word
        start = self.pos
        while self.pos < len(t) and not t[self.pos].isspace() and t[self.pos] not in "()":
            if t[self.pos] == ":" and self.pos > start:
                break
            self.pos += 1
        return t[start:self.pos]

    def _regexp_ahead(self) -> bool:
        # "/size:..." is a key; "/x.*/" as a value is a regexp: only values call word() here
        return "/" in self.text[self.pos + 1:]


def parse_filter(text: str) -> Predicate:
    text = text.strip()
    if text in ("", "*"):
        return lambda _r, _u, _o: True
    lex = _Lexer(text)
    pred = _parse_or(lex)
    if lex.peek():
        raise InvalidValue(f"filter {text!r}: unexpected {lex.text[lex.pos:]!r}", hint=_HINT)
    return pred


def _parse_or(lex: _Lexer) -> Predicate:
    terms = [_parse_and(lex)]
    while _at_keyword(lex, "OR"):
        lex.pos += 2
        terms.append(_parse_and(lex))
    if len(terms) == 1:
        return terms[0]
    return lambda r, u, o: any(t(r, u, o) for t in terms)


def _parse_and(lex: _Lexer) -> Predicate:
    terms: list[Predicate] = []
    while True:
        ch = lex.peek()
        if not ch or ch == ")" or _at_keyword(lex, "OR"):
            break
        if _at_keyword(lex, "AND"):
            lex.pos += 3
            continue
        terms.append(_parse_unary(lex))
    if not terms:
        raise InvalidValue(f"filter {lex.text!r}: missing term", hint=_HINT)
    if len(terms) == 1:
        return terms[0]
    return lambda r, u, o: all(t(r, u, o) for t in terms)


def _at_keyword(lex: _Lexer, word: str) -> bool:
    lex.skip_space()
    t, p = lex.text, lex.pos
    end = p + len(word)
    return t[p:end] == word and (end == len(t) or t[end].isspace() or t[end] in "()")


def _parse_unary(lex: _Lexer) -> Predicate:
    ch = lex.peek()
    if ch == "-":
        lex.pos += 1
        inner = _parse_unary(lex)
        return lambda r, u, o: not inner(r, u, o)
    if ch == "(":
        lex.pos += 1
        inner = _parse_or(lex)
        if lex.peek() != ")":
            raise InvalidValue(f"filter {lex.text!r}: missing ')'", hint=_HINT)
        lex.pos += 1
        return inner
    if ch == "*":
        lex.pos += 1
        return lambda _r, _u, _o: True
    key = _key(lex)
    if lex.peek() != ":":
        raise InvalidValue(f"filter {lex.text!r}: expected ':' after {key!r}", hint=_HINT)
    lex.pos += 1
    matchers: list[Callable[[str], bool]] = []
    if lex.peek() == "(":
        lex.pos += 1
        while True:
            matchers.append(_matcher(lex.word(), lex.text))
            if _at_keyword(lex, "OR"):
                lex.pos += 2
                continue
            if lex.peek() == ")":
                lex.pos += 1
                break
            raise InvalidValue(f"filter {lex.text!r}: expected OR or ')'", hint=_HINT)
    else:
        matchers.append(_matcher(lex.word(), lex.text))
    if key == ".unit":
        # "ns/op" matches the tidied "sec/op" too, as users write the unit they see in files
        return lambda _r, u, o: any(m(u) or (o != "" and m(o)) for m in matchers)
    return lambda r, u, _o: any(m(field_value(r, u, key)) for m in matchers)


def _key(lex: _Lexer) -> str:
    lex.skip_space()
    t = lex.text
    if lex.pos < len(t) and t[lex.pos] == '"':
        return lex.word()
    start = lex.pos
    while lex.pos < len(t) and t[lex.pos] not in ":()" and not t[lex.pos].isspace():
        lex.pos += 1
    key = t[start:lex.pos]
    if not key:
        raise InvalidValue(f"filter {t!r}: missing key", hint=_HINT)
    return key


def _matcher(word: str, text: str) -> Callable[[str], bool]:
    if len(word) >= 2 and word.startswith("/") and word.endswith("/"):
        try:
            rx = re.compile(word[1:-1])
        except re.error as exc:
            raise InvalidValue(f"filter {text!r}: bad regexp {word}: {exc}", hint=_HINT) from exc
        return lambda v: rx.search(v) is not None
    return lambda v: v == word

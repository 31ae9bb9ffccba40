"""Alertmanager's label matchers, as ``amtool`` and silences write them.

``alertname=HighLatency``, ``severity!=info``, ``instance=~"web-.*"``, ``job!~'batch|cron'``;
a bare word is ``alertname=<word>`` (amtool's shorthand). A regex matches the whole value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from perflab.errors import InvalidValue
from perflab.metrics._re2 import translate

_MATCHER = re.compile(r"""^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$""", re.DOTALL)


@dataclass(frozen=True, slots=True)
class LabelMatcher:
    name: str
    op: str
    value: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        got = labels.get(self.name, "")
        if self.op == "=":
            return got == self.value
        if self.op == "!=":
            return got != self.value
        hit = re.fullmatch(f"(?:{translate(self.value)})", got) is not None
        return hit if self.op == "=~" else not hit

    def to_list(self) -> list[str]:
        return [self.name, self.op, self.value]

    def __str__(self) -> str:
        return f'{self.name}{self.op}"{self.value}"'


def parse_matcher(text: str) -> LabelMatcher:
    m = _MATCHER.match(text)
    if m is None:
        if re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", text.strip()):
            return LabelMatcher("alertname", "=", text.strip())
        raise InvalidValue(f"invalid matcher {text[:100]!r}",
                           hint='write it as amtool does: name=value, name!=value, '
                                'name=~"regex", name!~"regex"')
    name, op, value = m.groups()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if op in ("=~", "!~"):
        try:
            re.compile(translate(value))
        except re.error as exc:
            raise InvalidValue(f"invalid regular expression in {text!r}: {exc}") from None
    return LabelMatcher(name, op, value)


def from_lists(items: list[list[str]]) -> list[LabelMatcher]:
    return [LabelMatcher(str(n), str(o), str(v)) for n, o, v in items]


def all_match(matchers: list[LabelMatcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)

"""Prometheus's relabeling (``relabel_configs``, ``metric_relabel_configs``), done as
``model/relabel`` does: replace, keep, drop, keepequal, dropequal, hashmod, labelmap, labeldrop,
labelkeep, lowercase, uppercase."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from perflab.errors import InvalidValue
from perflab.metrics._functions import go_expand
from perflab.metrics._labels import LABEL_NAME
from perflab.metrics._re2 import translate

ACTIONS = frozenset({"replace", "keep", "drop", "keepequal", "dropequal", "hashmod", "labelmap",
                     "labeldrop", "labelkeep", "lowercase", "uppercase"})
_TARGET_WITH_REFS = re.compile(r"^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$")


@dataclass(frozen=True, slots=True)
class RelabelConfig:
    source_labels: tuple[str, ...] = ()
    separator: str = ";"
    regex: re.Pattern[str] = re.compile("(?:(.*))")
    modulus: int = 0
    target_label: str = ""
    replacement: str = "$1"
    action: str = "replace"

    @classmethod
    def from_yaml(cls, doc: Any, where: str) -> RelabelConfig:
        if not isinstance(doc, dict):
            raise InvalidValue(f"{where}: a relabel config must be a mapping")
        unknown = set(doc) - {"source_labels", "separator", "regex", "modulus", "target_label",
                              "replacement", "action"}
        if unknown:
            raise InvalidValue(f"{where}: unknown field(s) {', '.join(sorted(map(str, unknown)))}")
        action = str(doc.get("action", "replace")).lower()
        if action not in ACTIONS:
            raise InvalidValue(f"{where}: unknown relabel action {action!r}",
                               hint=f"one of {', '.join(sorted(ACTIONS))}")
        sources = doc.get("source_labels", []) or []
        if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
            raise InvalidValue(f"{where}: source_labels must be a list of label names")
        regex_text = str(doc.get("regex", "(.*)"))
        try:
            regex = re.compile(f"(?:{translate(regex_text)})")
        except re.error as exc:
            raise InvalidValue(f"{where}: invalid regex {regex_text!r}: {exc}") from None
        cfg = cls(tuple(sources), str(doc.get("separator", ";")), regex,
                  int(doc.get("modulus", 0) or 0), str(doc.get("target_label", "") or ""),
                  str(doc.get("replacement", "$1")), action)
        cfg.check(where)
        return cfg

    def check(self, where: str) -> None:
        a = self.action
        if a in ("replace", "hashmod", "lowercase", "uppercase", "keepequal", "dropequal") \
                and not self.target_label:
            raise InvalidValue(f"{where}: relabel action {a!r} needs a target_label")
        if a == "replace" and not _TARGET_WITH_REFS.match(self.target_label):
            raise InvalidValue(f"{where}: {self.target_label!r} is not a valid target label")
        if a in ("lowercase", "uppercase", "hashmod", "keepequal", "dropequal") \
                and not LABEL_NAME.match(self.target_label):
            raise InvalidValue(f"{where}: {self.target_label!r} is not a valid label name")
        if a == "hashmod" and self.modulus <= 0:
            raise InvalidValue(f"{where}: relabel action hashmod needs a modulus above 0")
        if a in ("labeldrop", "labelkeep") and (self.source_labels or self.target_label
                                                or self.replacement != "$1"):
            raise InvalidValue(f"{where}: {a} takes only a regex")


def relabel(labels: Mapping[str, str],
            configs: tuple[RelabelConfig, ...]) -> dict[str, str] | None:
    """The labels after every config in order; None when a keep or drop removed the target
    or sample. Empty values remove a label, as in Prometheus."""
    out = dict(labels)
    for cfg in configs:
        value = cfg.separator.join(out.get(name, "") for name in cfg.source_labels)
        a = cfg.action
        if a == "drop":
            if cfg.regex.fullmatch(value):
                return None
        elif a == "keep":
            if not cfg.regex.fullmatch(value):
                return None
        elif a == "dropequal":
            if out.get(cfg.target_label, "") == value:
                return None
        elif a == "keepequal":
            if out.get(cfg.target_label, "") != value:
                return None
        elif a == "replace":
            m = cfg.regex.fullmatch(value)
            if m is None:
                continue
            target = go_expand(cfg.target_label, m)
            if not LABEL_NAME.match(target):
                continue
            result = go_expand(cfg.replacement, m)
            if result:
                out[target] = result
            else:
                out.pop(target, None)
        elif a == "lowercase":
            out[cfg.target_label] = value.lower()
        elif a == "uppercase":
            out[cfg.target_label] = value.upper()
        elif a == "hashmod":
            digest = hashlib.md5(value.encode(), usedforsecurity=False).digest()
            out[cfg.target_label] = str(int.from_bytes(digest[8:], "big") % cfg.modulus)
        elif a == "labelmap":
            for name, val in list(out.items()):
                m = cfg.regex.fullmatch(name)
                if m:
                    out[go_expand(cfg.replacement, m)] = val
        elif a == "labeldrop":
            for name in [n for n in out if cfg.regex.fullmatch(n)]:
                del out[name]
        elif a == "labelkeep":
            for name in [n for n in out if not cfg.regex.fullmatch(n)]:
                del out[name]
    return {k: v for k, v in out.items() if v != ""}

"""A Chaos Toolkit experiment: read (JSON or YAML), checked with chaostoolkit-lib's rules, and its
configuration, secrets and ``${name}`` substitution as chaostoolkit-lib resolves them.

Validation names the field at fault (``method[1].provider.func``) so exit 2 points at it.
"""

from __future__ import annotations

import json
import os
from collections import ChainMap
from string import Template
from typing import TYPE_CHECKING, Any

import yaml

from perflab.chaos import providers
from perflab.errors import InvalidFile, UsageError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path

Experiment = dict[str, Any]
Activity = dict[str, Any]

PROVIDER_TYPES = ("python", "http", "process", "perflab")
TOLERANCE_TYPES = ("probe", "regex", "jsonpath", "range")
ROLLBACK_STRATEGIES = ("default", "always", "never", "deviated")
HYPOTHESIS_STRATEGIES = ("default", "before-method-only", "after-method-only", "during-method-only",
                         "continuously", "skip")
DRY_MODES = ("probes", "actions", "activities", "pause")


class ExperimentInvalid(InvalidFile):
    """The experiment breaks a rule of the format: ``FILE: FIELD: what is wrong``."""

    def __init__(self, path: str, field: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(f"{field}: {message}", path=path,
                         hint=hint or 'see docs/chaos.md, "Experiments"')
        self.field = field


def read_document(path: Path) -> dict[str, Any]:
    """A JSON or YAML mapping from ``path`` (YAML unless the name ends in ``.json``)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidFile(f"cannot read: {exc}", path=str(path),
                          hint="give the path of an experiment file") from exc
    try:
        doc = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise InvalidFile(f"not JSON: {exc.msg}", path=str(path), line=exc.lineno,
                          hint="fix the JSON syntax") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InvalidFile(f"not YAML: {getattr(exc, 'problem', exc)}", path=str(path),
                          line=None if mark is None else mark.line + 1,
                          hint="fix the YAML syntax") from exc
    if not isinstance(doc, dict):
        raise InvalidFile("an experiment is a mapping (title, description, method ...)",
                          path=str(path), hint='see docs/chaos.md, "Experiments"')
    return doc


def validate_experiment(exp: Experiment, path: str) -> None:
    """Raise ``ExperimentInvalid`` at the first field that breaks chaostoolkit-lib's rules."""
    for key in ("title", "description"):
        if not isinstance(exp.get(key), str) or not exp[key]:
            raise ExperimentInvalid(path, key, f"an experiment requires a {key} (a string)")
    method = exp.get("method")
    if not isinstance(method, list) or not method:
        raise ExperimentInvalid(path, "method", "an experiment requires a method with at "
                                "least one activity")
    hypo = exp.get("steady-state-hypothesis")
    every = [*method, *(exp.get("rollbacks") or [])]
    if isinstance(hypo, dict) and isinstance(hypo.get("probes"), list):
        every += hypo["probes"]
    refs = {a.get("name") for a in every if isinstance(a, dict) and "ref" not in a}
    if hypo is not None:
        where = "steady-state-hypothesis"
        if not isinstance(hypo, dict) or not isinstance(hypo.get("title"), str):
            raise ExperimentInvalid(path, f"{where}.title", "a hypothesis requires a title")
        probes = hypo.get("probes", [])
        if not isinstance(probes, list):
            raise ExperimentInvalid(path, f"{where}.probes", "must be a list of probes")
        for i, probe in enumerate(probes):
            at = f"{where}.probes[{i}]"
            _check_activity(probe, path, at, refs)
            if isinstance(probe, dict) and "ref" not in probe:
                if "tolerance" not in probe:
                    raise ExperimentInvalid(path, f"{at}.tolerance",
                                            "a hypothesis probe requires a tolerance")
                _check_tolerance(probe["tolerance"], path, f"{at}.tolerance")
    for i, activity in enumerate(method):
        _check_activity(activity, path, f"method[{i}]", refs)
    rollbacks = exp.get("rollbacks", [])
    if not isinstance(rollbacks, list):
        raise ExperimentInvalid(path, "rollbacks", "must be a list of actions")
    for i, activity in enumerate(rollbacks):
        _check_activity(activity, path, f"rollbacks[{i}]", refs)


def _check_activity(activity: object, path: str, at: str, refs: set[Any]) -> None:
    if not isinstance(activity, dict):
        raise ExperimentInvalid(path, at, "an activity is a mapping")
    if "ref" in activity:
        if activity["ref"] not in refs:
            raise ExperimentInvalid(path, f"{at}.ref",
                                    f"no activity named {activity['ref']!r} to refer to")
        return
    if not isinstance(activity.get("name"), str) or not activity["name"]:
        raise ExperimentInvalid(path, f"{at}.name", "an activity must have a name")
    if activity.get("type") not in ("probe", "action"):
        raise ExperimentInvalid(path, f"{at}.type", "an activity's type is probe or action")
    for key in ("before", "after"):
        pause = (activity.get("pauses") or {}).get(key)
        if pause is not None and not isinstance(pause, (int, float, str)):
            raise ExperimentInvalid(path, f"{at}.pauses.{key}", "a pause is a number of seconds")
    _check_provider(activity.get("provider"), path, f"{at}.provider")


def _check_provider(provider: object, path: str, at: str) -> None:
    if not isinstance(provider, dict):
        raise ExperimentInvalid(path, at, "an activity requires a provider")
    kind = _kind(provider, PROVIDER_TYPES, path, f"{at}.type", "provider")
    needed = {"python": ("module", "func"), "http": ("url",), "process": ("path",),
              "perflab": ("func",)}[kind]
    for key in needed:
        if not isinstance(provider.get(key), str) or not provider[key]:
            raise ExperimentInvalid(path, f"{at}.{key}", f"a {kind} provider requires {key}")
    arguments = provider.get("arguments")
    if kind in ("python", "perflab") and arguments is not None and not isinstance(
            arguments, dict):
        raise ExperimentInvalid(path, f"{at}.arguments", "arguments are a mapping")
    if kind == "perflab":
        problem = providers.argument_problem(provider["func"], arguments or {})
        if problem is not None:
            raise ExperimentInvalid(path, f"{at}.{problem[0]}", problem[1])


def _kind(node: dict[str, Any], known: tuple[str, ...], path: str, at: str, what: str) -> str:
    """``node``'s ``type``, one of ``known``."""
    kind = node.get("type")
    if kind not in known:
        raise ExperimentInvalid(path, at, f"unknown {what} type {kind!r}",
                                hint="one of: " + ", ".join(known))
    return str(kind)


def _check_tolerance(tolerance: object, path: str, at: str) -> None:
    if isinstance(tolerance, (bool, int, str, list)):
        return
    if not isinstance(tolerance, dict):
        raise ExperimentInvalid(path, at, "a tolerance is a bool, int, string, list or mapping")
    kind = _kind(tolerance, TOLERANCE_TYPES, path, f"{at}.type", "tolerance")
    if kind == "probe":
        _check_provider(tolerance.get("provider"), path, f"{at}.provider")
    elif kind == "regex":
        if not isinstance(tolerance.get("pattern"), str):
            raise ExperimentInvalid(path, f"{at}.pattern", "a regex tolerance needs a pattern")
    elif kind == "jsonpath":
        if not isinstance(tolerance.get("path"), str):
            raise ExperimentInvalid(path, f"{at}.path", "a jsonpath tolerance needs a path")
    else:
        bounds = tolerance.get("range")
        if not (isinstance(bounds, list) and len(bounds) == 2 and all(
                isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds)):
            raise ExperimentInvalid(path, f"{at}.range", "a range is two numbers [min, max]")


def _resolve(value: object, at: str) -> object:
    """A configuration or secret value: a literal, or ``{"type": "env", "key": ..., "default":
    ...}`` read from the environment (missing without a default: exit 2)."""
    if isinstance(value, dict) and value.get("type") == "env":
        key = value.get("key")
        if not isinstance(key, str):
            raise UsageError(f"{at}: an env value needs a key", hint="add key: VARIABLE")
        if key in os.environ:
            return os.environ[key]
        if "default" in value:
            return value["default"]
        raise UsageError(f"{at}: environment variable {key} is not set",
                         hint=f"export {key}=... or give the value a default")
    return value


def resolve_configuration(exp: Experiment, overrides: Mapping[str, Any]) -> dict[str, Any]:
    raw = exp.get("configuration") or {}
    config = {k: _resolve(v, f"configuration.{k}") for k, v in raw.items()}
    config.update(overrides)
    return config


def resolve_secrets(exp: Experiment, overrides: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    raw = exp.get("secrets") or {}
    secrets = {scope: {k: _resolve(v, f"secrets.{scope}.{k}") for k, v in values.items()}
               for scope, values in raw.items()}
    for scope, values in overrides.items():
        secrets.setdefault(scope, {}).update(values)
    return secrets


class _TypedTemplate(Template):
    def typed(self, mapping: Mapping[str, Any]) -> object:
        """A lone ``${name}`` keeps the value's type (chaostoolkit-lib's rule); else text."""
        match = self.pattern.fullmatch(self.template)
        if match is not None and match.group("braced") in mapping:
            return mapping[match.group("braced")]
        return self.safe_substitute(mapping)


def substitute(data: object, config: Mapping[str, Any],
               secrets: Mapping[str, Mapping[str, Any]]) -> object:
    """``${name}`` replaced from the configuration, then the secrets, through lists and maps."""
    mapping: Mapping[str, Any] = ChainMap(dict(config), *(dict(s) for s in secrets.values()))
    return _substitute(data, mapping)


def _substitute(data: object, mapping: Mapping[str, Any]) -> object:
    if isinstance(data, str):
        return _TypedTemplate(data).typed(mapping)
    if isinstance(data, dict):
        return {k: _substitute(v, mapping) for k, v in data.items()}
    if isinstance(data, list):
        return [_substitute(v, mapping) for v in data]
    return data


def parse_vars(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``--var NAME=VALUE`` (``NAME:int=3``, ``:float``, ``:bool``, ``:str`` as chaostoolkit)."""
    out: dict[str, Any] = {}
    casts: dict[str, Callable[[str], object]] = {"int": int, "float": float, "str": str,
             "bool": lambda v: v.lower() in ("1", "true", "yes", "on")}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"--var {pair!r}: expected NAME=VALUE", hint="--var port=8080")
        name, _, kind = name.partition(":")
        cast = casts.get(kind or "str")
        if cast is None:
            raise UsageError(f"--var {pair!r}: unknown type {kind!r}",
                             hint="one of: " + ", ".join(casts))
        try:
            out[name] = cast(value)
        except ValueError as exc:
            raise UsageError(f"--var {pair!r}: not a {kind}", hint=f"--var {name}:{kind}=...") \
                from exc
    return out


def read_var_file(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """A ``--var-file`` (JSON or YAML): ``{"configuration": {...}, "secrets": {...}}``."""
    doc = read_document(path)
    config, secrets = doc.get("configuration", {}), doc.get("secrets", {})
    if not isinstance(config, dict) or not isinstance(secrets, dict):
        raise InvalidFile("configuration and secrets are mappings", path=str(path),
                          hint='{"configuration": {"name": "value"}}')
    return config, secrets

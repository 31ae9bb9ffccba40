"""Reader of the Go benchmark format (golang.org/design/14313-benchmark-format).

    goos: linux                                   configuration: key (lower-case first, no
    pkg: example.com/enc                          spaces or capitals), colon, value; an empty
                                                  value deletes the key
    Unit ns/op assume=nothing better=lower        unit metadata
    BenchmarkEncode/format=json-8  1000  1726 ns/op  512 B/op  3 allocs/op
                                   ^iterations  then value/unit pairs (-benchmem adds B/op ...)

Any other line is ignored, as Go's own reader does, and so is a bare ``BenchmarkName`` (what
``go test -v`` prints when a benchmark starts). A line that starts with "Benchmark" but is
malformed is reported as ``file:line: message`` and skipped.
"""

from __future__ import annotations

from perflab.bench._model import Problem, Result, ResultSet, Value
from perflab.bench._units import tidy, tidy_unit


def _is_config_key_start(ch: str) -> bool:
    return ch.islower()


def _parse_key_value(line: str) -> tuple[str, str] | None:
    if not line or not _is_config_key_start(line[0]):
        return None
    for i, ch in enumerate(line):
        if ch.isspace() or ch.isupper():
            return None
        if i > 0 and ch == ":":
            key, rest = line[:i], line[i + 1:]
            if not rest:
                return key, ""
            stripped = rest.lstrip(" \t")
            if stripped == rest:  # "key:value" without a space is not a config line
                return None
            return key, stripped
    return None


def _parse_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"invalid syntax {text!r}") from None
    if text.lower().lstrip("+-") in ("inf", "infinity", "nan"):
        raise ValueError(f"invalid syntax {text!r}")
    return value


def read_go(text: str, path: str, label: str, into: ResultSet) -> int:
    """Read Go benchmark output into ``into``; return how many results were read."""
    config: dict[str, str] = {}
    count = 0
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r")
        if line.startswith("Benchmark"):
            result = _parse_benchmark(line, lineno, path, label, config, into)
            if result is not None:
                into.results.append(result)
                count += 1
            continue
        if line.startswith("Unit"):
            fields = line.split()
            if fields and fields[0] == "Unit":
                _parse_unit(fields[1:], lineno, path, into)
                continue
        kv = _parse_key_value(line)
        if kv is not None:
            key, value = kv
            if value:
                config[key] = value
            else:
                config.pop(key, None)
    return count


def _parse_benchmark(  # noqa: PLR0917  # private parser step; all positional by nature
    line: str, lineno: int, path: str, label: str, config: dict[str, str], into: ResultSet
) -> Result | None:
    after = line[len("Benchmark"):]
    if not any(ch.isspace() for ch in after):
        # `go test -v` prints the bare name when a benchmark starts; benchstat skips that line
        # (golang/perf a44b9fb: a name and nothing else after it, not even a space)
        return None
    fields = after.split()
    if not fields or len(fields) < 2:
        into.problems.append(Problem(path, lineno, "missing iteration count"))
        return None
    name, iters_text, rest = fields[0], fields[1], fields[2:]
    try:
        iters = int(iters_text)
    except ValueError:
        into.problems.append(
            Problem(path, lineno, f"parsing iteration count: invalid syntax {iters_text!r}"))
        return None
    if not rest:
        into.problems.append(Problem(path, lineno, "missing measurements"))
        return None
    values: list[Value] = []
    for i in range(0, len(rest), 2):
        try:
            number = _parse_number(rest[i])
        except ValueError as exc:
            into.problems.append(Problem(path, lineno, f"parsing measurement: {exc}"))
            return None
        if i + 1 >= len(rest):
            into.problems.append(Problem(path, lineno, "missing units"))
            return None
        value, unit = tidy(number, rest[i + 1])
        values.append(Value(value, unit, rest[i + 1] if unit != rest[i + 1] else ""))
    return Result(name, tuple(values), label, tuple(config.items()), iters, lineno)


def _parse_unit(fields: list[str], lineno: int, path: str, into: ResultSet) -> None:
    if not fields:
        into.problems.append(Problem(path, lineno, "missing unit"))
        return
    unit = fields[0]
    tidied, _ = tidy_unit(unit)
    for item in fields[1:]:
        key, eq, value = item.partition("=")
        if not eq or not key:
            into.problems.append(Problem(path, lineno, "expected key=value"))
            continue
        have = into.unit_meta.get((tidied, key))
        if have is not None and have != value:
            into.problems.append(
                Problem(path, lineno, f"metadata {key} of unit {unit} already set to {have}"))
            continue
        into.unit_meta[(tidied, key)] = value

"""Activities for the experiment tests, imported by both perflab's runner and chaostoolkit-lib's
(python providers are found by module path)."""

from __future__ import annotations

from typing import Any

CALLS: list[str] = []


def record(label: str) -> str:
    """An action that leaves a trace, to see which rollbacks ran."""
    CALLS.append(label)
    return label


def interrupt() -> None:
    """An action that stands for Ctrl-C in the middle of the method."""
    raise KeyboardInterrupt


def boom() -> None:
    msg = "the provider broke"
    raise RuntimeError(msg)


def echo(value: Any, configuration: dict[str, Any] | None = None) -> Any:
    """Answers its argument (and sees the configuration, as chaostoolkit-lib passes it)."""
    del configuration
    return value


def below(value: float, limit: float = 10) -> bool:
    """A probe tolerance: the value is below the limit."""
    return value < limit

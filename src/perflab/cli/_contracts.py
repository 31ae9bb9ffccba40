"""The shapes of the JSON documents this package answers with, one TypedDict per schema in
docs/schemas/ (run).

tests/unit/test_contracts.py checks each against its schema; the functions that build the
documents are annotated with them, so mypy checks what they build.
"""

from typing import Literal, TypedDict

from perflab.store import RunJson


class RunDoc(TypedDict):
    """perflab run --json: the run of a command started as a recorded, traced child."""

    schema: Literal["perflab.run/1"]
    run: RunJson
    exit_code: int
    service: str
    samples: int

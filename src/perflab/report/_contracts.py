"""The shapes of the JSON documents this package answers with, one TypedDict per schema in
docs/schemas/ (report).

tests/unit/test_contracts.py checks each against its schema; the functions that build the
documents are annotated with them, so mypy checks what they build.
"""

from typing import Literal, TypedDict


class ReportDoc(TypedDict):
    """Output of `perflab report RUN --json`."""

    schema: Literal["perflab.report/1"]
    run_id: int
    path: str
    bytes: int

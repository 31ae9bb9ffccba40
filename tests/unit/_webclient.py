"""The hub in-process for unit tests: Starlette's TestClient, and the API's JSON schemas."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import jsonschema

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas"


def client_class() -> Any:
    """starlette.testclient.TestClient, imported without its warning: it prefers httpx2 as
    its backend, and httpx is what we have and what it still supports."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
        from starlette.testclient import TestClient  # noqa: PLC0415  # under the filter
    return TestClient


def validate(doc: dict[str, Any], name: str) -> None:
    """``doc`` is valid for docs/schemas/api-NAME.schema.json (draft 2020-12)."""
    schema = json.loads((SCHEMAS / f"api-{name}.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(doc)

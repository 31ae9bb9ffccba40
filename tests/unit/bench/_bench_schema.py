"""Validate JSON output against docs/schemas (a plain module: a conftest.py here would shadow
the top-level one that other tests import ``require_tool`` from)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

SCHEMAS = Path(__file__).parents[3] / "docs" / "schemas"


def validate(doc_text: str, name: str) -> Any:
    """Parse ``doc_text`` and check it against docs/schemas/<name>.schema.json."""
    doc = json.loads(doc_text)
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    jsonschema.validate(doc, schema)
    return doc

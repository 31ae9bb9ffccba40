from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

SCHEMAS = Path(__file__).parents[3] / "docs" / "schemas"


@pytest.fixture
def validate():
    """Validate a JSON document against docs/schemas/<name>.schema.json."""

    def check(doc_text: str, name: str) -> dict:
        doc = json.loads(doc_text)
        schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
        jsonschema.validate(doc, schema)
        return doc

    return check


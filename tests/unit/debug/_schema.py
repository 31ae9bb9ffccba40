"""The debug commands' --json documents checked against docs/schemas/."""

import json
from pathlib import Path

import jsonschema

SCHEMAS = Path(__file__).parent.parent.parent.parent / "docs" / "schemas"


def validate(doc: dict, what: str) -> None:
    schema = json.loads((SCHEMAS / f"{what}.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(doc)

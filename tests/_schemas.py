"""The JSON schemas of docs/schemas/, and the one way tests check a document against them.

Every schema is registered by its ``$id``, so a schema that refers to another
(``show.schema.json`` → ``runs.schema.json#/$defs/run``) resolves without network access.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource

SCHEMAS = Path(__file__).resolve().parent.parent / "docs" / "schemas"


def schema_names() -> list[str]:
    """Every schema's name (its file name without ``.schema.json``), sorted."""
    return sorted(p.name.removesuffix(".schema.json") for p in SCHEMAS.glob("*.schema.json"))


@cache
def load_schema(name: str) -> dict[str, Any]:
    """docs/schemas/NAME.schema.json, parsed."""
    schema: dict[str, Any] = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    return schema


@cache
def registry() -> Registry[Any]:
    """Every schema, by its ``$id``."""
    docs = [load_schema(name) for name in schema_names()]
    return Registry().with_resources([(d["$id"], Resource.from_contents(d)) for d in docs])


def validate(doc: Any, name: str) -> Any:
    """Fail unless ``doc`` is valid for docs/schemas/NAME.schema.json (draft 2020-12); return
    ``doc``. A ``str`` or ``bytes`` document is parsed first and the parsed value returned.
    ``NAME#/$defs/PART`` checks ``doc`` against one part of a schema (a finding of the demo's)."""
    if isinstance(doc, (str, bytes)):
        doc = json.loads(doc)
    name, _, pointer = name.partition("#")
    schema = load_schema(name)
    if pointer:
        schema = {"$ref": f"{schema['$id']}#{pointer}"}
    jsonschema.Draft202012Validator(schema, registry=registry()).validate(doc)
    return doc

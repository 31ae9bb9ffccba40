"""The TypedDicts of goroutines, race and stacks --json name exactly their schemas' fields."""

import json

import pytest
from tests.unit.debug._schema import SCHEMAS

from perflab.debug import _contracts


@pytest.mark.parametrize(("schema", "typed"), [
    ("goroutines", _contracts.GoroutinesReport), ("race", _contracts.RaceReportDoc),
    ("stacks", _contracts.StacksReportDoc), ("gotrace", _contracts.GotraceReport)])
def test_typed_dict_matches_schema(schema, typed):
    doc = json.loads((SCHEMAS / f"{schema}.schema.json").read_text())
    assert set(typed.__annotations__) == set(doc["properties"]) == set(doc["required"])

"""`perflab bench compare` prints exactly what benchstat prints, on benchstat's own test data.

The inputs and golden outputs are benchstat's (golang.org/x/perf, BSD licence; see SOURCE.md).
Byte equality covers every number: centre, ±%, delta, p, n, geomean, warnings and layout.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perflab.cli import main

DATA = Path(__file__).parents[2] / "fixtures" / "bench" / "benchstat"
CASES = json.loads((DATA / "cases.json").read_text())


@pytest.mark.parametrize("name", sorted(CASES))
def test_output_equals_benchstat_golden(name, capsys, monkeypatch):
    monkeypatch.chdir(DATA)
    code = main(["bench", "compare", *CASES[name]])
    out, err = capsys.readouterr()
    assert code == 0, err
    # read_bytes: no newline translation, so trailing spaces and commas compare exactly
    assert out == (DATA / f"{name}.stdout").read_bytes().decode("utf-8")
    # as benchstat's own golden test does, a missing .stderr file means "nothing on stderr"
    stderr_golden = DATA / f"{name}.stderr"
    expected_err = stderr_golden.read_text(encoding="utf-8") if stderr_golden.exists() else ""
    assert err == expected_err


def test_every_golden_output_has_a_case():
    """No golden file sits unused: each one is exercised by the parity test above."""
    goldens = {p.stem for p in DATA.glob("*.stdout")}
    assert goldens == set(CASES)

"""The public names of perflab.report and perflab.web, pinned: other capabilities build on them
(the demo calls write_report; load, bench and profile append report sections)."""

from __future__ import annotations

import inspect

import perflab.report
import perflab.web


def test_report_public_names():
    assert sorted(perflab.report.__all__) == sorted([
        "SECTIONS", "ReportContext", "Section", "format_value", "load_section_values",
        "render_report", "run_summaries", "series_area", "series_key", "write_report",
        "ReportDoc",  # the contract of `report --json` (docs/schemas/report.schema.json)
    ])
    for name in perflab.report.__all__:
        assert hasattr(perflab.report, name), name


def test_write_report_keeps_its_signature():
    params = list(inspect.signature(perflab.report.write_report).parameters)
    assert params == ["store", "run_id", "path"]


def test_sections_are_a_plain_list_of_functions():
    assert isinstance(perflab.report.SECTIONS, list)
    assert all(callable(fn) for fn in perflab.report.SECTIONS)


def test_web_public_names():
    assert sorted(perflab.web.__all__) == ["AppConfig", "Listener", "create_app"]

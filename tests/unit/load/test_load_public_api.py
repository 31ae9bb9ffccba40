"""The public surface of perflab.load, pinned: changing it is a decision, not an accident."""

import perflab.load


def test_exported_names():
    assert sorted(perflab.load.__all__) == sorted([
        "Feeder", "Histogram", "Interval", "LoadConfig", "LoadRecorder", "LoadResult",
        "LoadRunner", "Outcome", "RequestSpec", "Response", "RunOptions", "Scenario",
        "Schedule", "Session", "Stage", "Target", "Threshold", "csv_feeder", "execute",
        "format_hgrm", "junit_xml", "load_view", "parse_stages", "parse_target",
        "parse_threshold", "render_summary",
        "compare_runs", "render_compare", "WorkerPool", "workers_needed",
        "ApiLoadDoc", "ApiLoadThreshold", "LoadCompareDoc", "LoadDoc", "LoadTracingDoc",
        "LoadCapacityDoc", "CapacityOptions", "CapacityPoint", "CapacityResult", "search_capacity",
        "UslFit", "fit_usl",
        "LoadCoverageDoc", "LoadImportDoc", "Traffic", "read_traffic", "read_traces",
        "render_scenario", "import_document", "render_import", "render_unmapped",
        "coverage_document", "render_coverage", "scenario_endpoints", "run_coverage",
    ])
    for name in perflab.load.__all__:
        assert getattr(perflab.load, name) is not None

"""The public surface of perflab.chaos, pinned: changing it is a decision, not an accident."""

import perflab.chaos


def test_exported_names() -> None:
    assert sorted(perflab.chaos.__all__) == sorted([
        "FaultBands", "TOXIC_ATTRIBUTES", "TOXIPROXY_VERSION", "ChaosServer", "read_config",
        "running_server",
        # Chaos Toolkit experiments
        "ExperimentContext", "ExperimentInvalid", "ExperimentOptions", "experiment_exit_code",
        "parse_vars", "read_experiment", "read_var_file", "record_journal",
        "render_resilience", "resilience", "resolve_configuration",
        "resolve_secrets", "run_experiment", "validate_experiment",
        # what a fault did to the load (the report's Resilience section uses them too)
        "DeviationDoc", "LoadSeconds", "fault_deviation",
    ])
    for name in perflab.chaos.__all__:
        assert getattr(perflab.chaos, name) is not None

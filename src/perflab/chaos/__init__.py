"""Chaos engineering: the fault proxy (a Toxiproxy-compatible API and TCP toxics).

Public names: ``ChaosServer`` (the API and its proxies on one event loop), ``FaultBands`` (toxics as
bands on a run), ``running_server``
(one in a thread), ``read_config`` (a Toxiproxy ``-config`` file), ``TOXIC_ATTRIBUTES`` (the
toxic types and their attributes), ``TOXIPROXY_VERSION``; Chaos Toolkit experiments:
``read_experiment``, ``validate_experiment``, ``run_experiment`` and their helpers;
``resilience`` (``perflab chaos report``), ``LoadSeconds`` and ``fault_deviation`` (what a
fault did to the load: steady band, worst deviation, time to recover);
perflab's activities in ``perflab.chaos.providers``. See docs/chaos.md.
"""

from perflab.chaos._activities import Context as ExperimentContext
from perflab.chaos._api import TOXIPROXY_VERSION
from perflab.chaos._bands import FaultBands
from perflab.chaos._contracts import DeviationDoc
from perflab.chaos._deviation import LoadSeconds
from perflab.chaos._deviation import deviation as fault_deviation
from perflab.chaos._experiment import (
    ExperimentInvalid,
    parse_vars,
    read_var_file,
    resolve_configuration,
    resolve_secrets,
    validate_experiment,
)
from perflab.chaos._experiment import read_document as read_experiment
from perflab.chaos._record import record_journal
from perflab.chaos._resilience import render_resilience, resilience
from perflab.chaos._runner import RunOptions as ExperimentOptions
from perflab.chaos._runner import exit_code as experiment_exit_code
from perflab.chaos._runner import run_experiment
from perflab.chaos._server import ChaosServer, read_config, running_server
from perflab.chaos._toxics import TOXIC_ATTRIBUTES

__all__ = [
    "TOXIC_ATTRIBUTES",
    "TOXIPROXY_VERSION",
    "ChaosServer",
    "DeviationDoc",
    "ExperimentContext",
    "ExperimentInvalid",
    "ExperimentOptions",
    "FaultBands",
    "LoadSeconds",
    "experiment_exit_code",
    "fault_deviation",
    "parse_vars",
    "read_config",
    "read_experiment",
    "read_var_file",
    "record_journal",
    "render_resilience",
    "resilience",
    "resolve_configuration",
    "resolve_secrets",
    "run_experiment",
    "running_server",
    "validate_experiment",
]

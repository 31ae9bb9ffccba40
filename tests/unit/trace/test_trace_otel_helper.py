"""perflab.otel.setup: costs nothing when off, never raises into the service."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[3] / "src"


def _python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(SRC), **env}, check=False,
                          timeout=60)


def test_disabled_imports_nothing_and_returns_none():
    r = _python("import sys, perflab.otel as o; print(o.setup('x'));"
                "print(any(m.startswith('opentelemetry') for m in sys.modules))",
                OTEL_SDK_DISABLED="true")
    assert r.stdout.split() == ["None", "False"]


def test_a_broken_configuration_is_a_warning_not_an_exception():
    r = _python("import perflab.otel as o; print(o.setup('x', sampling_ratio='half'))")
    assert r.returncode == 0
    assert r.stdout.strip() == "None"
    assert "tracing stays off" in r.stderr


def test_setup_configures_the_sdk_once_with_the_service_name():
    r = _python("import perflab.otel as o\n"
                "p = o.setup('checkout', sampling_ratio=0.1)\n"
                "assert o.setup('other') is p\n"
                "print(p.resource.attributes['service.name'], p.sampler.get_description())",
                OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split(" ", 1)[0] == "checkout"
    assert "TraceIdRatioBased{0.1}" in r.stdout


def test_setup_skips_unsampled_children_only_under_a_parent_based_sampler():
    code = ("import perflab.otel as o\n"
            "print(type(o.setup('x')).__name__)")
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"}
    ratio = _python(code, OTEL_TRACES_SAMPLER="parentbased_traceidratio",
                    OTEL_TRACES_SAMPLER_ARG="0.1", **env)
    always = _python(code, OTEL_TRACES_SAMPLER="always_on", **env)
    assert ratio.stdout.strip() == "SkippingTracerProvider", ratio.stderr
    assert always.stdout.strip() == "TracerProvider", always.stderr

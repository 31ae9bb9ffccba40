"""The public surface of perflab.netcap, pinned: changing it is a decision, not an accident."""

import perflab.netcap


def test_exported_names() -> None:
    assert sorted(perflab.netcap.__all__) == sorted([
        "BenchNetDoc", "CaptureDoc", "CaptureResult", "CaptureSpec", "CaptureSummaryDoc", "FlowDoc",
        "HttpRouteDoc", "LiveResult", "RttDoc", "TotalsDoc", "capture", "live", "run_tcp",
        "run_udp", "summarize", "Endpoints", "endpoints",
    ])

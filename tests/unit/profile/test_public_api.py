"""The public names of perflab.profile and perflab.ebpf are exactly these (httpx's pattern)."""

from __future__ import annotations

import perflab.ebpf
import perflab.profile


def test_profile_exports():
    assert sorted(perflab.profile.__all__) == sorted([
        "FORMATS", "CaptureRequest", "CaptureResult", "ContinuousProfiler", "Frame",
        "PeekReport", "Profile", "Sample", "SampleType", "ShareChange", "StoreSink", "Target",
        "TopOptions", "TopReport", "TopRow", "capture", "choose_backend", "diff_flame_html",
        "flame_html", "merge", "parse_fail_on", "parse_profile", "peek", "profile_of_range",
        "read_profile", "share_changes", "sniff_format", "target_of_command", "target_of_pid",
        "top", "write_profile",
        # the run's timeline of slices (hub, report, demo)
        "FunctionShare", "RangeProfile", "ShareDelta", "SliceInfo", "profile_slices",
        "range_changes", "range_profile", "top_functions",
        "find_tool",
        # what the command line uses
        "check_backend_mode", "comparable", "diff_tree", "fetch", "is_go_binary", "is_url",
        "render_html", "render_svg", "scaled_label", "tree_of",
        # the contracts of its JSON (docs/schemas/profile-*.schema.json, the hub's parts)
        "FunctionShareJson", "ProfileCaptureDoc", "ProfileContinuousDoc", "ProfileDiffDoc",
        "ProfileExportDoc", "ProfileFlameDoc", "ProfilePprofPeekDoc", "ProfilePprofTopDoc",
        "RangeProfileJson", "ShareDeltaJson", "SliceJson", "CaptureMode", "ProfilePprofTopRow"])
    for name in perflab.profile.__all__:
        assert getattr(perflab.profile, name) is not None


def test_ebpf_exports():
    assert sorted(perflab.ebpf.__all__) == sorted([
        "BpftraceOutput", "bpftrace_path", "ensure_tracefs", "require_root", "resolve_library",
            "run_bpftrace",
        "split_key",
        # the tools the command line runs
        "biolatency", "execsnoop", "libcalls", "offcpu", "runqlat", "syscalls", "tcpretrans",
        # the contracts of their JSON (docs/schemas/ebpf-*.schema.json)
        "EbpfEventsDoc", "EbpfHistDoc", "EbpfLibcallsDoc", "EbpfOffcpuDoc", "EbpfRunJson",
        "EbpfSyscallsDoc", "Log2HistJson"])


def test_flame_pages_from_the_public_functions():
    p = perflab.profile.Profile(sample_types=[perflab.profile.SampleType("samples", "count")])
    p.add([perflab.profile.Frame("leaf"), perflab.profile.Frame("main")], [3])
    page = perflab.profile.flame_html(p, title="one")
    assert "<canvas" in page
    assert '"leaf"' in page
    assert '"diff":true' in perflab.profile.diff_flame_html(p, p, title="same")

"""Profiles: one model, codecs, analysis (top, peek), flame graphs, diffs and capture.

Public names only; the implementation lives in private modules.
"""

from __future__ import annotations

from perflab.profile._capture import (
    CaptureRequest,
    CaptureResult,
    capture,
    check_backend_mode,
    choose_backend,
    find_tool,
)
from perflab.profile._continuous import ContinuousProfiler, StoreSink
from perflab.profile._contracts import (
    CaptureMode,
    FunctionShareJson,
    ProfileCaptureDoc,
    ProfileContinuousDoc,
    ProfileDiffDoc,
    ProfileExportDoc,
    ProfileFlameDoc,
    ProfilePprofPeekDoc,
    ProfilePprofTopDoc,
    ProfilePprofTopRow,
    RangeProfileJson,
    ShareDeltaJson,
    SliceJson,
)
from perflab.profile._diff import ShareChange, diff_tree, parse_fail_on, share_changes
from perflab.profile._fetch import fetch, is_url
from perflab.profile._flame import tree_of
from perflab.profile._flame_render import diff_flame_html, flame_html, render_html, render_svg
from perflab.profile._io import FORMATS, parse_profile, read_profile, sniff_format, write_profile
from perflab.profile._measure import scaled_label
from perflab.profile._model import Frame, Profile, Sample, SampleType
from perflab.profile._names import comparable
from perflab.profile._target import Target, is_go_binary, target_of_command, target_of_pid
from perflab.profile._timeline import (
    FunctionShare,
    RangeProfile,
    ShareDelta,
    SliceInfo,
    profile_of_range,
    profile_slices,
    range_changes,
    range_profile,
    top_functions,
)
from perflab.profile._timeline import merge_compact as merge
from perflab.profile._top import PeekReport, TopOptions, TopReport, TopRow, peek, top

__all__ = [
    "FORMATS",
    "CaptureMode",
    "CaptureRequest",
    "CaptureResult",
    "ContinuousProfiler",
    "Frame",
    "FunctionShare",
    "FunctionShareJson",
    "PeekReport",
    "Profile",
    "ProfileCaptureDoc",
    "ProfileContinuousDoc",
    "ProfileDiffDoc",
    "ProfileExportDoc",
    "ProfileFlameDoc",
    "ProfilePprofPeekDoc",
    "ProfilePprofTopDoc",
    "ProfilePprofTopRow",
    "RangeProfile",
    "RangeProfileJson",
    "Sample",
    "SampleType",
    "ShareChange",
    "ShareDelta",
    "ShareDeltaJson",
    "SliceInfo",
    "SliceJson",
    "StoreSink",
    "Target",
    "TopOptions",
    "TopReport",
    "TopRow",
    "capture",
    "check_backend_mode",
    "choose_backend",
    "comparable",
    "diff_flame_html",
    "diff_tree",
    "fetch",
    "find_tool",
    "flame_html",
    "is_go_binary",
    "is_url",
    "merge",
    "parse_fail_on",
    "parse_profile",
    "peek",
    "profile_of_range",
    "profile_slices",
    "range_changes",
    "range_profile",
    "read_profile",
    "render_html",
    "render_svg",
    "scaled_label",
    "share_changes",
    "sniff_format",
    "target_of_command",
    "target_of_pid",
    "top",
    "top_functions",
    "tree_of",
    "write_profile",
]

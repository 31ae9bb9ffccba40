"""Profiles: one model, codecs, analysis (top, peek), flame graphs, diffs and capture.

Public names only; the implementation lives in private modules.
"""

from __future__ import annotations

from perflab.profile._io import FORMATS, parse_profile, read_profile, sniff_format, write_profile
from perflab.profile._model import Frame, Profile, Sample, SampleType
from perflab.profile._top import PeekReport, TopOptions, TopReport, TopRow, peek, top

__all__ = [
    "FORMATS",
    "Frame",
    "PeekReport",
    "Profile",
    "Sample",
    "SampleType",
    "TopOptions",
    "TopReport",
    "TopRow",
    "parse_profile",
    "peek",
    "read_profile",
    "sniff_format",
    "top",
    "write_profile",
]

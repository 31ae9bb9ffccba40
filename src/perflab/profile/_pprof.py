"""pprof's protobuf format (``perftools.profiles.Profile``), gzipped on disk: read and write.

The message classes are generated at run time from a descriptor built here, field for field
from google/pprof's ``proto/profile.proto``, so no protoc step and no generated module is
needed. Decoding uses protobuf's C implementation; a corrupt or truncated file becomes
``InvalidFile`` (exit 2), never a traceback.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable
from functools import cache
from typing import Any

from perflab.errors import InvalidFile
from perflab.profile._model import Frame, Profile, Sample, SampleType

_I64, _U64, _BOOL, _STR, _MSG = 3, 4, 8, 9, 11  # FieldDescriptorProto.Type values
_OPT, _REP = 1, 3  # FieldDescriptorProto.Label values

# message -> [(field name, number, type, label, message type)], as in profile.proto
_MESSAGES: dict[str, list[tuple[str, int, int, int, str]]] = {
    "Profile": [
        ("sample_type", 1, _MSG, _REP, "ValueType"), ("sample", 2, _MSG, _REP, "Sample"),
        ("mapping", 3, _MSG, _REP, "Mapping"), ("location", 4, _MSG, _REP, "Location"),
        ("function", 5, _MSG, _REP, "Function"), ("string_table", 6, _STR, _REP, ""),
        ("drop_frames", 7, _I64, _OPT, ""), ("keep_frames", 8, _I64, _OPT, ""),
        ("time_nanos", 9, _I64, _OPT, ""), ("duration_nanos", 10, _I64, _OPT, ""),
        ("period_type", 11, _MSG, _OPT, "ValueType"), ("period", 12, _I64, _OPT, ""),
        ("comment", 13, _I64, _REP, ""), ("default_sample_type", 14, _I64, _OPT, ""),
    ],
    "ValueType": [("type", 1, _I64, _OPT, ""), ("unit", 2, _I64, _OPT, "")],
    "Sample": [
        ("location_id", 1, _U64, _REP, ""), ("value", 2, _I64, _REP, ""),
        ("label", 3, _MSG, _REP, "Label"),
    ],
    "Label": [
        ("key", 1, _I64, _OPT, ""), ("str", 2, _I64, _OPT, ""), ("num", 3, _I64, _OPT, ""),
        ("num_unit", 4, _I64, _OPT, ""),
    ],
    "Mapping": [
        ("id", 1, _U64, _OPT, ""), ("memory_start", 2, _U64, _OPT, ""),
        ("memory_limit", 3, _U64, _OPT, ""), ("file_offset", 4, _U64, _OPT, ""),
        ("filename", 5, _I64, _OPT, ""), ("build_id", 6, _I64, _OPT, ""),
        ("has_functions", 7, _BOOL, _OPT, ""), ("has_filenames", 8, _BOOL, _OPT, ""),
        ("has_line_numbers", 9, _BOOL, _OPT, ""), ("has_inline_frames", 10, _BOOL, _OPT, ""),
    ],
    "Location": [
        ("id", 1, _U64, _OPT, ""), ("mapping_id", 2, _U64, _OPT, ""),
        ("address", 3, _U64, _OPT, ""), ("line", 4, _MSG, _REP, "Line"),
        ("is_folded", 5, _BOOL, _OPT, ""),
    ],
    "Line": [("function_id", 1, _U64, _OPT, ""), ("line", 2, _I64, _OPT, ""),
             ("column", 3, _I64, _OPT, "")],
    "Function": [
        ("id", 1, _U64, _OPT, ""), ("name", 2, _I64, _OPT, ""),
        ("system_name", 3, _I64, _OPT, ""), ("filename", 4, _I64, _OPT, ""),
        ("start_line", 5, _I64, _OPT, ""),
    ],
}


@cache
def _profile_class() -> Any:
    from google.protobuf import (  # noqa: PLC0415  # protobuf is heavy; load on first use
        descriptor_pb2,
        descriptor_pool,
        message_factory,
    )

    fdp = descriptor_pb2.FileDescriptorProto(
        name="perflab_profile.proto", package="perftools.profiles", syntax="proto3")
    for msg_name, fields in _MESSAGES.items():
        msg = fdp.message_type.add(name=msg_name)
        for name, number, ftype, label, type_name in fields:
            f = msg.field.add(name=name, number=number, type=ftype, label=label)
            if type_name:
                f.type_name = f".perftools.profiles.{type_name}"
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("perftools.profiles.Profile"))


def is_pprof(data: bytes) -> bool:
    """Gzip magic, or a raw message that starts with field 1 or 2 (sample_type, sample)."""
    return data[:2] == b"\x1f\x8b" or (len(data) > 1 and data[0] in (0x0A, 0x12))


def decode(data: bytes, *, path: str = "<pprof>") -> Profile:
    """Decode a (gzipped or raw) pprof profile."""
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise InvalidFile(f"corrupt or truncated gzip data ({exc})", path=path,
                              hint="the pprof file is damaged; fetch or record it again") from exc
    from google.protobuf.message import DecodeError  # noqa: PLC0415

    msg = _profile_class()()
    try:
        msg.ParseFromString(data)
    except DecodeError as exc:
        raise InvalidFile("not a valid pprof profile (protobuf decoding failed)", path=path,
                          hint="the file is truncated or not a pprof profile") from exc
    try:
        return _from_message(msg)
    except (IndexError, KeyError) as exc:
        raise InvalidFile(f"inconsistent pprof profile ({exc!r} does not resolve)", path=path,
                          hint="a string, function or location id points nowhere") from exc


def _from_message(msg: Any) -> Profile:
    strings: list[str] = list(msg.string_table)
    if not strings:
        strings = [""]
    if strings[0] != "":
        raise IndexError("string_table[0] must be empty")

    def s(i: int) -> str:
        return strings[i]

    mappings = {m.id: m for m in msg.mapping}
    functions = {f.id: f for f in msg.function}
    prof = Profile(
        sample_types=[SampleType(s(v.type), s(v.unit)) for v in msg.sample_type],
        period=msg.period, time_ns=msg.time_nanos, duration_ns=msg.duration_nanos,
        default_sample_type=s(msg.default_sample_type),
        comments=[s(c) for c in msg.comment],
    )
    if msg.HasField("period_type"):
        prof.period_type = SampleType(s(msg.period_type.type), s(msg.period_type.unit))
    if len(msg.mapping):
        prof.main_module = s(msg.mapping[0].filename)
        prof.build_id = s(msg.mapping[0].build_id)
    # location id -> frame indices, innermost (inlined) first, as the location's lines are
    loc_frames: dict[int, tuple[int, ...]] = {}
    for loc in msg.location:
        module = s(mappings[loc.mapping_id].filename) if loc.mapping_id else ""
        lines = list(loc.line)
        if not lines:
            loc_frames[loc.id] = (prof.intern(Frame("", module=module, address=loc.address)),)
            continue
        idxs = []
        for n, ln in enumerate(lines):
            fn = functions[ln.function_id] if ln.function_id else None
            frame = Frame(
                function=s(fn.name) if fn is not None else "",
                file=s(fn.filename) if fn is not None else "",
                line=ln.line, module=module, address=loc.address,
                inlined=n != len(lines) - 1,
            )
            idxs.append(prof.intern(frame))
        loc_frames[loc.id] = tuple(idxs)
    ntypes = len(prof.sample_types)
    for sm in msg.sample:
        values = list(sm.value)
        if len(values) != ntypes:
            raise IndexError(f"sample with {len(values)} values for {ntypes} sample types")
        stack: list[int] = []
        for lid in sm.location_id:
            stack.extend(loc_frames[lid])
        sample = Sample(tuple(stack), values)
        for lab in sm.label:
            if lab.str:
                sample.labels[s(lab.key)] = s(lab.str)
            else:
                sample.num_labels[s(lab.key)] = (lab.num, s(lab.num_unit))
        prof.samples.append(sample)
    return prof


def encode(prof: Profile) -> bytes:
    """Encode a profile as gzipped pprof that ``go tool pprof`` reads."""
    msg = _profile_class()()
    strings: dict[str, int] = {"": 0}

    def s(text: str) -> int:
        i = strings.get(text)
        if i is None:
            i = strings[text] = len(strings)
        return i

    for st in prof.sample_types:
        msg.sample_type.add(type=s(st.type), unit=s(st.unit))
    mapping_ids = _add_mappings(msg, prof, s)
    func_ids: dict[tuple[str, str], int] = {}
    loc_ids: dict[tuple[int, ...], int] = {}
    frames = prof.frames
    for sample in prof.samples:
        # group frames into locations: an inlined frame joins the location of its caller
        locs: list[int] = []
        group: list[int] = []
        for idx in sample.stack:
            group.append(idx)
            if not frames[idx].inlined:
                locs.append(_location_id(msg, tuple(group), frames, loc_ids=loc_ids,
                                         func_ids=func_ids, mapping_ids=mapping_ids, s=s))
                group = []
        if group:
            locs.append(_location_id(msg, tuple(group), frames, loc_ids=loc_ids,
                                     func_ids=func_ids, mapping_ids=mapping_ids, s=s))
        _add_labels(msg.sample.add(location_id=locs, value=sample.values), sample, s)
    _add_header(msg, prof, s)
    msg.string_table.extend(strings)  # dicts keep insertion order: index == position
    return gzip.compress(msg.SerializeToString(), compresslevel=6, mtime=0)


def _add_mappings(msg: Any, prof: Profile, s: Callable[[str], int]) -> dict[str, int]:
    """One mapping per module, the main module first (pprof's convention): module -> id."""
    mapping_ids: dict[str, int] = {}
    modules = [prof.main_module] if prof.main_module else []
    modules += sorted({f.module for f in prof.frames if f.module} - set(modules))
    for mod in modules:
        mapping_ids[mod] = len(mapping_ids) + 1
        m = msg.mapping.add(id=mapping_ids[mod], filename=s(mod), has_functions=True,
                            has_filenames=True, has_line_numbers=True, has_inline_frames=True)
        if mod == prof.main_module and prof.build_id:
            m.build_id = s(prof.build_id)
    return mapping_ids


def _add_labels(sm: Any, sample: Sample, s: Callable[[str], int]) -> None:
    for k, v in sample.labels.items():
        sm.label.add(key=s(k), str=s(v))
    for k, (num, unit) in sample.num_labels.items():
        lab = sm.label.add(key=s(k), num=num)
        if unit:
            lab.num_unit = s(unit)


def _add_header(msg: Any, prof: Profile, s: Callable[[str], int]) -> None:
    msg.time_nanos = prof.time_ns
    msg.duration_nanos = prof.duration_ns
    msg.period = prof.period
    if prof.period_type is not None:
        msg.period_type.type = s(prof.period_type.type)
        msg.period_type.unit = s(prof.period_type.unit)
    for c in prof.comments:
        msg.comment.append(s(c))
    if prof.default_sample_type:
        msg.default_sample_type = s(prof.default_sample_type)


def _location_id(msg: Any, group: tuple[int, ...], frames: list[Frame], *,
                 loc_ids: dict[tuple[int, ...], int], func_ids: dict[tuple[str, str], int],
                 mapping_ids: dict[str, int], s: Any) -> int:
    lid = loc_ids.get(group)
    if lid is not None:
        return lid
    lid = loc_ids[group] = len(loc_ids) + 1
    outer = frames[group[-1]]
    loc = msg.location.add(id=lid, address=outer.address)
    if outer.module:
        loc.mapping_id = mapping_ids[outer.module]
    for idx in group:
        f = frames[idx]
        if not f.function:
            continue  # an unsymbolised frame: the location keeps only its address
        key = (f.function, f.file)
        fid = func_ids.get(key)
        if fid is None:
            fid = func_ids[key] = len(func_ids) + 1
            # no system_name: names are already readable (perf and py-spy demangle), and
            # pprof would run its C++ heuristics on a system name, turning "<module>" into ""
            msg.function.add(id=fid, name=s(f.function), filename=s(f.file))
        loc.line.add(function_id=fid, line=f.line)
    return lid

"""A recorded console session: what reached the dashboard, as gzip-compressed JSON lines.

``gate-console --record FILE`` hands every arrival the dashboard drains (a cluster view, the
verdict, traced Raft messages, feed lines, a node's log lines, a timeline note, what the
lesson pane shows) to a :class:`Recorder`, which writes one JSON line per arrival with its
time offset in seconds since the recording began.  The first line is the header
(:data:`FORMAT`, its version, the Gate version, when it was recorded, the cluster's node
names).  ``gate-console --replay FILE`` reads it back with
:func:`read_recording` and plays it in the same panels (console/ops/replay.py).

The file is flushed (a gzip sync flush) at most every :data:`FLUSH_SECONDS`: a console killed
mid-session leaves a file readable up to its last complete line, whose cut end
:func:`read_recording` skips with one notice.  docs/CONSOLE.md, "Record and replay", describes
the format.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Literal, get_args

from console.ops.cluster import (
    ClusterStatus,
    FollowerProgress,
    HealthSample,
    NodeLogLine,
    NodeRow,
)
from console.ops.lesson_view import LessonView, check_change, encode_change
from console.ops.messages import TraceLine, trace_line
from console.ops.rate import Clock
from engine.client.checker import LiveVerdict, Violation

FORMAT = "gate-console-recording"
VERSION = 2  # 2 added the lesson pane's records ("lesson")
READS = (1, 2)  # the versions this console plays: a version 1 file has no lesson records
FLUSH_SECONDS = 0.5  # at most this much of a killed console's session is lost
Kind = Literal["health", "verdict", "trace", "feed", "log", "note", "lesson"]
KINDS: tuple[str, ...] = get_args(Kind)


class RecordingError(Exception):
    """Why a file cannot be replayed, in one line."""


@dataclass(frozen=True, slots=True)
class Header:
    """The first line of a recording."""

    gate: str  # the Gate version that recorded it
    recorded_at: float  # seconds since the epoch
    nodes: tuple[str, ...]  # the cluster's node names when the recording began
    version: int = VERSION

    def line(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": self.version,
            "gate": self.gate,
            "recorded_at": self.recorded_at,
            "nodes": list(self.nodes),
        }


@dataclass(frozen=True, slots=True)
class Record:
    """One arrival: its kind, its offset in seconds from the start, what arrived."""

    t: float
    kind: Kind
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Recording:
    """A recording read back: its header, its records in order, and what was wrong with the
    file's end (empty when nothing)."""

    header: Header
    records: tuple[Record, ...]
    notice: str = ""

    @property
    def duration(self) -> float:
        return self.records[-1].t if self.records else 0.0


def gate_version() -> str:
    try:
        return metadata.version("gate")
    except metadata.PackageNotFoundError:
        return "unknown"


# -- what arrives, as JSON and back ------------------------------------------------------------


def encode_sample(sample: HealthSample) -> dict[str, Any]:
    return dataclasses.asdict(sample)


def _tuples(value: Any) -> Any:
    """JSON's lists as the tuples the frozen rows hold."""
    return tuple(_tuples(item) for item in value) if isinstance(value, list) else value


def _fields(cls: type, raw: dict[str, Any]) -> dict[str, Any]:
    """``raw``'s fields that ``cls`` has, lists as tuples: a field a later Gate added is left
    out (the format's version changes only when a reader could not do without one)."""
    names = {field.name for field in dataclasses.fields(cls)}
    return {name: _tuples(value) for name, value in raw.items() if name in names}


def _node_row(raw: dict[str, Any]) -> NodeRow:
    fields = _fields(NodeRow, raw)
    fields["progress"] = tuple(FollowerProgress(**p) for p in fields.get("progress") or ())
    return NodeRow(**fields)


def decode_sample(raw: dict[str, Any]) -> HealthSample:
    fields = _fields(HealthSample, raw)
    status = raw.get("status")
    if status is not None:
        nodes = tuple(_node_row(n) for n in status.get("nodes") or ())
        fields["status"] = ClusterStatus(**{**_fields(ClusterStatus, status), "nodes": nodes})
    return HealthSample(**fields)


def encode_verdict(verdict: LiveVerdict | None) -> dict[str, Any] | None:
    return None if verdict is None else dataclasses.asdict(verdict)


def decode_verdict(raw: dict[str, Any] | None) -> LiveVerdict | None:
    if raw is None:
        return None
    first = raw.get("first")
    return LiveVerdict(**{**raw, "first": None if first is None else Violation(**first)})


def decode_trace(raw: dict[str, Any]) -> list[TraceLine]:
    return [trace_line(fields, at) for at, fields in raw["lines"]]


def decode_log(raw: dict[str, Any]) -> list[NodeLogLine]:
    return [NodeLogLine(*line) for line in raw["lines"]]


# The checks each kind's data gets when read, so that a garbled record is skipped at reading,
# never a crash in the middle of a replay.
_DECODERS: dict[str, Callable[[dict[str, Any]], object]] = {
    "health": lambda d: decode_sample(d["sample"]),
    "verdict": lambda d: decode_verdict(d["verdict"]),
    "trace": decode_trace,
    "feed": lambda d: [(str(s), str(t)) for s, t in d["lines"]],
    "log": lambda d: (str(d["node"]), decode_log(d)),
    "note": lambda d: (str(d["when"]), [str(line) for line in d["lines"]]),
    "lesson": check_change,
}


# -- writing -----------------------------------------------------------------------------------


class Recorder:
    """Writes a session, one JSON line per arrival, gzip-compressed.

    Each arrival costs one ``json.dumps`` and a write into the compressor; the file is flushed
    at most every :data:`FLUSH_SECONDS` (``flush`` is called by the dashboard after each drain),
    so the cost stays bounded whatever the rate.
    """

    def __init__(self, path: Path, nodes: Iterable[str], *, clock: Clock = time.monotonic) -> None:
        self.path = path
        self.clock = clock
        try:
            # Open for the whole session: closed by close().
            self._file = gzip.GzipFile(path, "wb", compresslevel=6)
        except OSError as exc:
            raise RecordingError(f"cannot record to {path}: {exc.strerror or exc}") from None
        self._start = clock()
        self._flushed = self._start
        self.records = 0
        self._verdict: object = None  # the last verdict written, to write only changes
        self._lesson: LessonView | None = None  # the last lesson pane written, likewise
        header = Header(gate_version(), time.time(), tuple(nodes))
        self._write(header.line())
        self.flush(force=True)

    def _write(self, line: dict[str, Any]) -> None:
        data = json.dumps(line, separators=(",", ":"), ensure_ascii=False)
        self._file.write(data.encode() + b"\n")

    def add(self, kind: Kind, data: dict[str, Any]) -> None:
        """One arrival, now."""
        self._write({"t": round(self.clock() - self._start, 3), "k": kind, **data})
        self.records += 1

    def health(self, sample: HealthSample) -> None:
        self.add("health", {"sample": encode_sample(sample)})

    def verdict(self, verdict: LiveVerdict | None, unreadable: bool) -> None:
        """The verdict, when it changed since the last one written."""
        encoded = (encode_verdict(verdict), unreadable)
        if encoded != self._verdict:
            self._verdict = encoded
            self.add("verdict", {"verdict": encoded[0], "unreadable": unreadable})

    def trace(self, lines: list[TraceLine], missed: int) -> None:
        if lines or missed:
            raw = [[line.time, dict(line.fields)] for line in lines]
            self.add("trace", {"lines": raw, "missed": missed})

    def feed(self, lines: Iterable[tuple[str, str]]) -> None:
        raw = [[source, text] for source, text in lines]
        if raw:
            self.add("feed", {"lines": raw})

    def log(self, node: str, lines: Iterable[NodeLogLine]) -> None:
        raw = [dataclasses.astuple(line) for line in lines]
        if raw:
            self.add("log", {"node": node, "lines": raw})

    def note(self, when: str, lines: list[str]) -> None:
        self.add("note", {"when": when, "lines": lines})

    def lesson(self, view: LessonView | None) -> None:
        """The lesson pane (None: closed), when it changed since the last one written: only
        what changed (console/ops/lesson_view.py)."""
        change = encode_change(self._lesson, view)
        if change is not None:
            self._lesson = view
            self.add("lesson", change)

    def flush(self, *, force: bool = False) -> None:
        """Make what was written readable by another process (at most every FLUSH_SECONDS)."""
        now = self.clock()
        if force or now - self._flushed >= FLUSH_SECONDS:
            self._flushed = now
            self._file.flush()  # a gzip sync flush, to the file: whole lines so far decompress

    def close(self) -> None:
        self._file.close()


# -- reading -----------------------------------------------------------------------------------


def _header(line: bytes, path: Path) -> Header:
    try:
        raw = json.loads(line)
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise ValueError
    except ValueError:
        raise RecordingError(f"{path} is not a gate-console recording") from None
    if raw.get("version") not in READS:
        raise RecordingError(
            f"{path} is a recording of format version {raw.get('version')!r}; "
            f"this console reads versions {' and '.join(map(str, READS))}"
        )
    try:
        nodes = tuple(map(str, raw["nodes"]))
        return Header(str(raw["gate"]), float(raw["recorded_at"]), nodes, raw["version"])
    except (KeyError, TypeError, ValueError):
        raise RecordingError(f"{path}: its header line is incomplete") from None


def _record(line: bytes) -> Record | None:
    """The record on a line; None when the line is not one."""
    try:
        raw = json.loads(line)
        kind = raw.pop("k")
        t = float(raw.pop("t"))
        if kind not in KINDS:
            return None
        _DECODERS[kind](raw)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return Record(t, kind, raw)


def _lines(path: Path) -> tuple[list[bytes], bool]:
    """The file's decompressed lines, and whether its end was cut (the compressed stream or
    its last line)."""
    try:
        compressed = path.read_bytes()
    except FileNotFoundError:
        raise RecordingError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise RecordingError(f"{path} is a directory, not a recording") from None
    except OSError as exc:
        raise RecordingError(f"cannot read {path}: {exc.strerror or exc}") from None
    # A decompressor, not gzip.open: it hands over what a stream without its end (a console
    # killed while recording, after its last flush) holds, where gzip.open only raises.
    stream = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = stream.decompress(compressed)
    except zlib.error:
        raise RecordingError(f"{path} is not a gzip file (a recording is)") from None
    if not compressed.startswith(b"\x1f\x8b"):
        raise RecordingError(f"{path} is not a gzip file (a recording is)")
    lines = data.split(b"\n")
    last = lines.pop()  # after the final newline: empty unless the last line was cut
    return lines, not stream.eof or bool(last)


def read_recording(path: Path) -> Recording:
    """The recording in ``path``; ``RecordingError`` for a file that is none.  Lines that are
    not records are skipped and counted; a cut end is skipped; either is said in ``notice``."""
    lines, cut = _lines(path)
    if not lines:
        raise RecordingError(f"{path} is empty or cut before its header")
    header = _header(lines[0], path)
    records: list[Record] = []
    skipped = 0
    for line in lines[1:]:
        record = _record(line)
        if record is None:
            skipped += 1
        else:
            records.append(record)
    notices = []
    if cut:
        notices.append("its last line was cut (the console recording it was stopped)")
    if skipped:
        notices.append(f"{skipped} unreadable line{'s' if skipped != 1 else ''} skipped")
    notice = f"{path.name}: {'; '.join(notices)}" if notices else ""
    return Recording(header, tuple(records), notice)

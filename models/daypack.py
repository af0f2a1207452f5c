"""The compact form of a cached day of readings (cache format 2): the numbers only.

A day entry used to be JSON: for a load-curve day, 48 objects each with an ISO timestamp
(about 3.5 KB sealed). The day, the interval length and the Paris daylight-saving shape
already give every time, so a day is now stored as its numbers:

    byte 0   kind: 0 JSON (anything the compact kinds cannot hold exactly), 1 no value (a known gap),
             2 one daily value, 3 a daily maximum (VA and its moment), 4 a load-curve day
    byte 1   flags: bit 0 = the day is final
    kind 0   the record's JSON, `{"v": value, "f": final}` (as format 1 stored it)
    kind 2   int64 Wh
    kind 3   int64 VA, int32 seconds from the day's (Paris) midnight to the peak
    kind 4   value width w (2 or 4 bytes), segment count n (uint8), n × (offset, minutes, count) as
             uint16 — offset in real minutes from the day's midnight, so 46- and 50-interval days
             need nothing special —, then every segment's watts as unsigned w-byte integers,
             2^(8w)−1 marking a missing interval (a gap inside a segment)

A segment is a run of intervals of one length, back to back; a new segment starts where the
interval length changes (Enedis switches between 10, 15, 30 and 60 minutes) or where the
points stop lining up with the previous ones. The energy of an interval is not stored: it is
`energy_wh(watts, minutes)`, as the pipeline computed it.

`encode` checks that `decode` gives back exactly what it was given, and falls back to JSON
when not (negative or huge numbers, a point off the grid, an energy computed otherwise): the
compact form is never lossy. A 30-minute day is 105 bytes of plaintext (135 sealed).

Decoding a load-curve day gives a `CurveDay`: a read-only sequence of the same dicts as
before (`{"start", "minutes", "watts", "wh"}`, built on first use), with the numbers at hand
without building them (`intervals()`, `total_wh()`).
"""

from __future__ import annotations

import json
import struct
from array import array
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time
from typing import Any

from models.calendar import PARIS

JSON, NOTHING, DAILY, MAXIMUM, CURVE = 0, 1, 2, 3, 4
FINAL = 1
_HEAD = struct.Struct("<BB")
_DAILY = struct.Struct("<BBq")
_MAXIMUM = struct.Struct("<BBqi")
_CURVE = struct.Struct("<BBBB")
_SEGMENT = struct.Struct("<HHH")
_TYPECODE = {2: "H", 4: "I"}
_GAP = {2: 0xFFFF, 4: 0xFFFFFFFF}


class Undecodable(ValueError):
    """A plaintext that is no compact day (tampered format byte, or a release that wrote otherwise)."""


def energy_wh(watts: int, minutes: int) -> int:
    """Wh of an interval of `minutes` at `watts` on average (Enedis counts whole Wh)."""
    wh, rest = divmod(watts * minutes, 60)
    return wh if rest == 0 else round(watts * minutes / 60)


def midnight(day: date) -> int:
    """The POSIX time of the day's Paris midnight."""
    return int(datetime.combine(day, time(0), PARIS).timestamp())


class CurveDay(Sequence):
    """A cached load-curve day: segments of (offset minutes, interval minutes, watts or None each)."""

    __slots__ = ("day", "_segments", "_packed", "_points")

    def __init__(self, day: date, segments: list[tuple[int, int, list[int | None]]] | None = None, *,
                 packed: bytes | None = None):
        """From its segments, or from its compact plaintext (`packed`, unpacked on first use: a range read
        decrypts two years in a few milliseconds, and unpacks only what is looked at)."""
        self.day = day
        self._segments = segments
        self._packed = packed
        self._points: list[dict[str, Any]] | None = None

    @property
    def segments(self) -> list[tuple[int, int, list[int | None]]]:
        if self._segments is None:
            self._segments = _unpack_curve(self._packed)
            self._packed = None
        return self._segments

    def intervals(self) -> Iterator[tuple[int, int, int]]:
        """(POSIX start, minutes, watts) of every interval with a reading, in time order."""
        base = midnight(self.day)
        for offset, minutes, values in self.segments:
            start = base + offset * 60
            for watts in values:
                if watts is not None:
                    yield start, minutes, watts
                start += minutes * 60

    def total_wh(self) -> int:
        return sum(energy_wh(w, minutes) for _, minutes, values in self.segments for w in values if w is not None)

    def points(self) -> list[dict[str, Any]]:
        """The day as the JSON format stored it: `{"start": ISO with offset, "minutes", "watts", "wh"}`."""
        if self._points is None:
            self._points = [{"start": datetime.fromtimestamp(start, PARIS).isoformat(), "minutes": minutes,
                             "watts": watts, "wh": energy_wh(watts, minutes)}
                            for start, minutes, watts in self.intervals()]
        return self._points

    def __len__(self) -> int:
        if self._points is not None:
            return len(self._points)
        return sum(1 for _, _, values in self.segments for w in values if w is not None)

    def __getitem__(self, index):
        return self.points()[index]

    def __iter__(self):
        return iter(self.points())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, CurveDay):
            return self.day == other.day and self.points() == other.points()
        if isinstance(other, list):
            return self.points() == other
        return NotImplemented

    def __repr__(self) -> str:
        return f"CurveDay({self.day}, {len(self)} intervals)"

    def to_json(self) -> list[dict[str, Any]]:
        """A plain list (what `json.dumps` takes)."""
        return list(self.points())


# -- encoding ----------------------------------------------------------------------------------


def _json(value: Any, final: bool) -> bytes:
    return _HEAD.pack(JSON, FINAL if final else 0) + json.dumps({"v": value, "f": final}, default=_iso,
                                                                separators=(",", ":")).encode()


def _iso(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _segments(day: date, points: Sequence[dict[str, Any]]) -> list[tuple[int, int, list[int | None]]] | None:
    base = datetime.combine(day, time(0), PARIS).astimezone(UTC)
    segments: list[tuple[int, int, list[int | None]]] = []
    end = None  # minutes from midnight where the current segment ends
    for point in points:
        start = point["start"]
        start = datetime.fromisoformat(start) if isinstance(start, str) else start
        if not isinstance(start, datetime) or start.tzinfo is None:
            return None
        seconds = (start.astimezone(UTC) - base).total_seconds()
        minutes, watts = point.get("minutes"), point.get("watts")
        if seconds % 60 or not isinstance(minutes, int) or not isinstance(watts, int) or not 0 < minutes < 1500:
            return None
        offset = int(seconds // 60)
        if segments and minutes == segments[-1][1] and end is not None and offset >= end \
                and (offset - end) % minutes == 0:
            segments[-1][2].extend([None] * ((offset - end) // minutes))  # missing intervals: gaps
        else:
            segments.append((offset, minutes, []))
        segments[-1][2].append(watts)
        end = offset + minutes
    return segments


def _pack_curve(final: bool, segments: list[tuple[int, int, list[int | None]]]) -> bytes | None:
    values = [w for _, _, ws in segments for w in ws if w is not None]
    if len(segments) > 255 or any(not 0 <= o < 1500 or len(ws) > 0xFFFF for o, _, ws in segments) \
            or any(w < 0 for w in values):
        return None
    top = max(values, default=0)
    width = 2 if top < 0xFFFF else 4 if top < 0xFFFFFFFF else 0
    if not width:
        return None
    gap = _GAP[width]
    numbers = array(_TYPECODE[width], [gap if w is None else w for _, _, ws in segments for w in ws])
    head = _CURVE.pack(CURVE, FINAL if final else 0, width, len(segments))
    return head + b"".join(_SEGMENT.pack(o, m, len(ws)) for o, m, ws in segments) + numbers.tobytes()


def encode(day: date, value: Any, final: bool) -> bytes:
    """The plaintext of a day entry: compact when `decode` gives `value` back exactly, else JSON."""
    flags = FINAL if final else 0
    packed: bytes | None = None
    try:
        if value is None:
            packed = _HEAD.pack(NOTHING, flags)
        elif isinstance(value, dict) and set(value) == {"day", "value"} and type(value["value"]) is int:
            packed = _DAILY.pack(DAILY, flags, value["value"])
        elif isinstance(value, dict) and set(value) == {"day", "va", "at"} and type(value["va"]) is int \
                and isinstance(value["at"], str):
            at = (datetime.fromisoformat(value["at"]).timestamp() - midnight(day))
            if at == int(at):
                packed = _MAXIMUM.pack(MAXIMUM, flags, value["va"], int(at))
        elif isinstance(value, (list, CurveDay)) and all(isinstance(p, dict) and set(p) == {"start", "minutes",
                                                                                              "watts", "wh"}
                                                         for p in value):
            segments = _segments(day, value)
            packed = _pack_curve(final, segments) if segments is not None else None
    except (struct.error, ValueError, OverflowError, TypeError):
        packed = None
    if packed is not None:
        try:
            decoded = decode(day, packed)
            if isinstance(decoded[0], CurveDay):
                decoded[0].segments  # noqa: B018 (unpacked now, so that a bad length falls back to JSON)
            if decoded == (value, final):
                return packed
        except (Undecodable, ValueError, OverflowError):
            pass
    return _json(value, final)


# -- decoding ----------------------------------------------------------------------------------


def _unpack_curve(plaintext: bytes) -> list[tuple[int, int, list[int | None]]]:
    _, _, width, count = _CURVE.unpack_from(plaintext)
    typecode, gap = _TYPECODE[width], _GAP[width]
    heads = [_SEGMENT.unpack_from(plaintext, 4 + 6 * i) for i in range(count)]
    numbers = array(typecode, plaintext[4 + 6 * count:])
    if len(numbers) != sum(n for _, _, n in heads):
        raise Undecodable("curve: wrong length")
    segments, at = [], 0
    for offset, minutes, n in heads:
        chunk = numbers[at:at + n].tolist()
        if gap in chunk:
            chunk = [None if w == gap else w for w in chunk]
        segments.append((offset, minutes, chunk))
        at += n
    return segments


def decode(day: date, plaintext: bytes) -> tuple[Any, bool]:
    """(value, final) of a day entry's plaintext; raises Undecodable when it is none."""
    if len(plaintext) < 2:
        raise Undecodable("too short")
    kind, flags = plaintext[0], plaintext[1]
    final = bool(flags & FINAL)
    try:
        if kind == CURVE:
            if len(plaintext) < 4 or plaintext[2] not in _TYPECODE:
                raise Undecodable("curve: bad header")
            # Unpacked on first use: the plaintext is authenticated, so only `encode` wrote it.
            return CurveDay(day, packed=plaintext), final
        if kind == DAILY:
            return {"day": day.isoformat(), "value": _DAILY.unpack(plaintext)[2]}, final
        if kind == MAXIMUM:
            _, _, va, seconds = _MAXIMUM.unpack(plaintext)
            return {"day": day.isoformat(), "va": va,
                    "at": datetime.fromtimestamp(midnight(day) + seconds, PARIS).isoformat()}, final
        if kind == NOTHING and len(plaintext) == 2:
            return None, final
        if kind == JSON:
            record = json.loads(plaintext[2:])
            return record["v"], bool(record["f"])
    except (struct.error, KeyError, TypeError, ValueError) as exc:
        raise Undecodable(f"kind {kind}: {exc}") from None
    raise Undecodable(f"unknown kind {kind}")

"""Device identification (function 0x2B, MEI 0x0E) and the diagnostic counters of a device."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

from eq1_network.common.exceptions import ProtocolArgumentError, ProtocolTypeError
from eq1_network.protocols.modbus._spec import MAX_PDU

__all__ = [
    "COUNTER_SUB_FUNCTIONS",
    "DEFAULT_IDENTIFICATION",
    "MAX_OBJECT",
    "DiagnosticCounters",
    "conformity_level",
    "identification_objects",
    "stream_objects",
]

DEFAULT_IDENTIFICATION: dict[int, bytes] = {
    0x00: b"EQ-1 Network",
    0x01: b"EQ1-MODBUS-DEVICE",
    0x02: b"0.1",
}
"""The mandatory basic objects (vendor name, product code, revision) used when not given."""

_HEADER = 7
"""Bytes of a read device identification answer before its objects."""
MAX_OBJECT = MAX_PDU - _HEADER - 2
"""Longest object value: one object must fit an answer on its own (244 bytes)."""

_CATEGORY_END = {1: 0x03, 2: 0x80, 3: 0x100}
"""Read device id code (basic, regular, extended) -> end of its object id range."""


def identification_objects(given: Mapping[int, str | bytes] | None) -> dict[int, bytes]:
    """Check the ``identification`` argument and add the basic objects it lacks.

    Args:
        given: Object id (0..255) -> value (text is UTF-8 encoded), or ``None``.

    Returns:
        The objects, by id.

    Raises:
        ProtocolTypeError: If it is not a mapping of ints to str/bytes.
        ProtocolArgumentError: If an id is outside 0..255 or a value is longer than
            244 bytes.
    """
    objects = dict(DEFAULT_IDENTIFICATION)
    if given is None:
        return objects
    if not isinstance(given, Mapping):
        raise ProtocolTypeError(
            f"identification must be a mapping of object id -> str/bytes, got {given!r}"
        )
    for object_id, value in given.items():
        if isinstance(object_id, bool) or not isinstance(object_id, int):
            raise ProtocolTypeError(f"identification object id must be an int, got {object_id!r}")
        if not 0 <= object_id <= 0xFF:
            raise ProtocolArgumentError(
                f"identification object id must be in 0..255, got {object_id}"
            )
        data = value.encode() if isinstance(value, str) else value
        if not isinstance(data, bytes):
            raise ProtocolTypeError(
                f"identification object 0x{object_id:02X} must be str or bytes, got {value!r}"
            )
        if len(data) > MAX_OBJECT:
            raise ProtocolArgumentError(
                f"identification object 0x{object_id:02X} is {len(data)} bytes; "
                f"at most {MAX_OBJECT} fit one answer"
            )
        objects[object_id] = data
    return dict(sorted(objects.items()))


def conformity_level(objects: Mapping[int, bytes]) -> int:
    """The conformity level byte: highest category held, with individual access (0x80)."""
    if any(object_id >= 0x80 for object_id in objects):
        return 0x83
    if any(object_id >= 0x03 for object_id in objects):
        return 0x82
    return 0x81


def stream_objects(objects: Mapping[int, bytes], code: int, first: int) -> tuple[bytes, int]:
    """Encode the objects of one stream answer (codes 1..3) from object ``first`` on.

    An id that the category does not hold restarts the stream at object 0, as the
    specification asks. Objects that do not fit the PDU are left for the next
    request ("more follows").

    Args:
        objects: The device's objects, sorted by id.
        code: Read device id code: 1 basic, 2 regular, 3 extended.
        first: The requested object id.

    Returns:
        The answer's tail after the conformity level (more follows, next object id,
        number of objects, the objects) and the number of objects in it.
    """
    end = _CATEGORY_END[code]
    ids = [object_id for object_id in objects if object_id < end]
    if first not in ids:
        first = 0
    body = bytearray()
    count = 0
    more, next_id = 0x00, 0x00
    room = MAX_PDU - _HEADER
    for object_id in ids:
        if object_id < first:
            continue
        value = objects[object_id]
        if len(body) + 2 + len(value) > room:
            more, next_id = 0xFF, object_id
            break
        body += bytes((object_id, len(value))) + value
        count += 1
    return bytes((more, next_id, count)) + bytes(body), count


@dataclass
class DiagnosticCounters:
    """The counters of function 0x08 (diagnostics), from the last restart or clear.

    Attributes:
        bus_messages: Frames the server saw on the bus or connection (sub-function 0x0B).
        bus_errors: Frames dropped for a bad CRC/LRC or framing (0x0C).
        exceptions: Exception responses this device returned (0x0D).
        server_messages: Requests addressed to this device, broadcasts included (0x0E).
        no_responses: Requests this device did not answer (0x0F).
        naks: Negative acknowledges returned (0x10; always 0 here).
        busy: Server busy answers returned (0x11; always 0 here).
        overruns: Character overruns (0x12; always 0 here).
    """

    bus_messages: int = 0
    bus_errors: int = 0
    exceptions: int = 0
    server_messages: int = 0
    no_responses: int = 0
    naks: int = 0
    busy: int = 0
    overruns: int = 0

    def clear(self) -> None:
        """Set every counter to 0."""
        for field in fields(self):
            setattr(self, field.name, 0)

    def by_sub_function(self, sub_function: int) -> int:
        """The counter answered by a diagnostics sub-function (0x0B..0x12)."""
        name = _COUNTER_FIELDS[sub_function]
        return int(getattr(self, name)) & 0xFFFF


_COUNTER_FIELDS = {
    0x0B: "bus_messages",
    0x0C: "bus_errors",
    0x0D: "exceptions",
    0x0E: "server_messages",
    0x0F: "no_responses",
    0x10: "naks",
    0x11: "busy",
    0x12: "overruns",
}
COUNTER_SUB_FUNCTIONS = frozenset(_COUNTER_FIELDS)
"""Diagnostics sub-functions that answer a counter."""

"""Sans-I/O Modbus framers: MBAP (Modbus TCP), RTU (CRC-16) and ASCII (LRC).

A framer turns one PDU into the bytes of an application data unit
(:meth:`encode`) and turns received bytes, in chunks of any size, back into
:class:`Frame` objects (:meth:`feed`). It does no I/O and keeps no clock: the
transport decides when bytes arrive and when a silence ends a partial frame.

Invalid bytes (a wrong CRC or LRC, an MBAP header with a non-zero protocol
identifier or an impossible length, noise between frames) are dropped one byte at
a time until a valid frame starts, and counted in :attr:`dropped`; they are never
returned as a frame and never make the buffer grow beyond one largest frame.

Example::

    >>> framer = RTUFramer(side="server")
    >>> framer.encode(1, bytes.fromhex("03 0000 000A")).hex(" ")
    '01 03 00 00 00 0a c5 cd'
    >>> framer.feed(bytes.fromhex("ff 01 03 00 00 00 0a c5 cd"))
    [Frame(unit=1, pdu=b'\\x03\\x00\\x00\\x00\\n', transaction_id=0)]
    >>> framer.dropped
    1
"""

from __future__ import annotations

import binascii
import collections
import struct
from typing import Literal

from eq1_network.common.exceptions import ProtocolArgumentError
from eq1_network.protocols.modbus._frame import (
    CRC_TABLE,
    Frame,
    check_pdu,
    check_unit,
    crc16,
    lrc,
    make_frame,
)
from eq1_network.protocols.modbus._rtu_lengths import (
    plausible_request,
    request_length,
    response_length,
)
from eq1_network.protocols.modbus._spec import (
    ASCII_MAX_FRAME,
    MAX_PDU,
    MBAP_HEADER,
    RTU_MAX_FRAME,
)

__all__ = ["ASCIIFramer", "Frame", "MBAPFramer", "RTUFramer", "Side", "crc16", "lrc"]

Side = Literal["client", "server"]
"""``"client"``: :meth:`feed` parses responses; ``"server"``: it parses requests."""

_MBAP = struct.Struct(">HHHB")


class MBAPFramer:
    """Modbus TCP framing: a 7-byte MBAP header in front of each PDU.

    Attributes:
        dropped: Bytes discarded because no valid header started there.
    """

    def __init__(self) -> None:
        self._buffer = b""
        self.dropped = 0

    def encode(self, unit: int, pdu: bytes, transaction_id: int = 0) -> bytes:
        """Return the MBAP frame of one PDU.

        Args:
            unit: Unit identifier, 0 to 255.
            pdu: Function code and data, 1 to 253 bytes.
            transaction_id: Transaction identifier, 0 to 65535.

        Returns:
            The header followed by the PDU.

        Raises:
            ProtocolArgumentError: If an argument is out of range.
        """
        size = len(pdu)
        if type(transaction_id) is int and 0 <= transaction_id <= 0xFFFF and 0 < size <= MAX_PDU:
            if type(unit) is int and 0 <= unit <= 255:
                return _MBAP.pack(transaction_id, 0, size + 1, unit) + pdu
        check_unit(unit)
        check_pdu(pdu)
        if type(transaction_id) is not int or not 0 <= transaction_id <= 0xFFFF:
            raise ProtocolArgumentError(
                f"transaction_id={transaction_id!r} must be an int from 0 to 65535"
            )
        return _MBAP.pack(transaction_id, 0, len(pdu) + 1, unit) + pdu

    def feed(self, data: bytes) -> list[Frame]:
        """Add received bytes and return the frames they complete.

        Args:
            data: The bytes, in any chunking.

        Returns:
            The complete frames, oldest first (often empty).
        """
        if not self._buffer and len(data) > MBAP_HEADER:  # fast path: exactly one frame
            tid, protocol, length, unit = _MBAP.unpack_from(data)
            if protocol == 0 and len(data) == 6 + length and 2 <= length <= MAX_PDU + 1:
                return [make_frame(Frame, (unit, data[MBAP_HEADER:], tid))]
        buf = self._buffer + data if self._buffer else data
        frames: list[Frame] = []
        pos = 0
        end_of_buf = len(buf)
        while end_of_buf - pos > MBAP_HEADER:
            tid, protocol, length, unit = _MBAP.unpack_from(buf, pos)
            if protocol != 0 or not 2 <= length <= MAX_PDU + 1:
                pos += 1
                self.dropped += 1
                continue
            end = pos + 6 + length
            if end > end_of_buf:
                break
            frames.append(make_frame(Frame, (unit, buf[pos + MBAP_HEADER : end], tid)))
            pos = end
        self._buffer = buf[pos:] if pos else buf
        return frames

    def take_answer(
        self, data: bytes, transaction_id: int, unit: int, function: int
    ) -> bytes | None:
        """Return the PDU of ``data`` if it is exactly one answer to the named request.

        The common case of a client with one request outstanding, checked without
        building a :class:`Frame`: nothing is buffered, and ``data`` is one whole valid
        frame carrying ``transaction_id`` and ``unit`` whose function code is
        ``function`` or its exception response. The result is the one :meth:`feed`
        would return for ``data`` in that case.

        Args:
            data: Bytes just received.
            transaction_id: The request's transaction identifier.
            unit: The request's unit identifier.
            function: The request's function code.

        Returns:
            The response PDU; ``None`` if ``data`` is anything else, in which case
            nothing was consumed: pass ``data`` to :meth:`feed`.
        """
        if self._buffer or len(data) <= MBAP_HEADER:
            return None
        tid, protocol, length, got_unit = _MBAP.unpack_from(data)
        if (
            tid == transaction_id
            and protocol == 0
            and len(data) == 6 + length
            and length <= MAX_PDU + 1
            and got_unit == unit
            and data[MBAP_HEADER] & 0x7F == function
        ):
            return data[MBAP_HEADER:]
        return None

    def pending(self) -> int:
        """Return the number of buffered bytes of a partial frame."""
        return len(self._buffer)

    def expect_answer_to(self, pdu: bytes) -> None:
        """Accept the request hint of :meth:`RTUFramer.expect_answer_to`; MBAP needs none."""

    def reset(self) -> None:
        """Forget the buffered bytes (after a reconnection)."""
        self._buffer = b""


class RTUFramer:
    """Modbus RTU framing: address, PDU, CRC-16 (low byte first).

    Frames are found by their expected length, known from the function code (and
    a byte count where there is one), and confirmed by the CRC, never by timing.
    For function codes whose length the framer cannot know (diagnostics, vendor
    codes), the shortest prefix of at least four bytes whose CRC matches is taken.
    A byte that starts no valid frame is dropped and the search resumes at the
    next one. The transport may call :meth:`discard_partial` after an inter-frame
    silence; batching USB adapters make a silence only a hint, so the framer never
    needs one to find a frame.

    Args:
        side: ``"client"`` to parse responses, ``"server"`` to parse requests.

    Attributes:
        dropped: Bytes discarded because no valid frame started there.
    """

    def __init__(self, *, side: Side) -> None:
        if side not in ("client", "server"):
            raise ProtocolArgumentError(f"side={side!r} must be 'client' or 'server'")
        self.side: Side = side
        self._length = response_length if side == "client" else request_length
        self._buffer = b""
        self._expected: collections.deque[int] = collections.deque(maxlen=256)
        self._awaited: int | None = None
        self.dropped = 0

    def expect_answer_to(self, pdu: bytes) -> None:
        """Name a request whose response is coming (client side).

        A diagnostics response (function 0x08) is as long as its request but its
        bytes do not say so; knowing the requests in flight, the framer cuts each
        answer at the right length instead of searching for a CRC. A partial frame
        that starts like the answer to the latest request is waited for rather than
        skipped for a valid-looking frame inside its data.

        Args:
            pdu: The request PDU just sent.
        """
        if pdu[:1] == b"\x08":
            self._expected.append(len(pdu) + 3)
        self._awaited = pdu[0] if pdu else None

    def encode(self, unit: int, pdu: bytes, transaction_id: int = 0) -> bytes:
        """Return the RTU frame of one PDU.

        Args:
            unit: Unit address, 0 (broadcast) to 255.
            pdu: Function code and data, 1 to 253 bytes.
            transaction_id: Ignored (RTU has none); accepted so framers are interchangeable.

        Returns:
            Address, PDU and CRC.

        Raises:
            ProtocolArgumentError: If an argument is out of range.
        """
        check_unit(unit)
        check_pdu(pdu)
        body = bytes((unit,)) + pdu
        return body + crc16(body).to_bytes(2, "little")

    def feed(self, data: bytes) -> list[Frame]:
        """Add received bytes and return the frames they complete.

        When the bytes at the head cannot be completed yet but a complete valid
        frame follows them, the head is dropped as noise, so a garbled start never
        holds back the frames behind it; unless the head starts like the answer
        named by :meth:`expect_answer_to`, whose data may hold such a frame.

        Args:
            data: The bytes, in any chunking.

        Returns:
            The complete frames with a valid CRC, oldest first.
        """
        buf = self._buffer + data if self._buffer else data
        frames: list[Frame] = []
        pos = 0
        while len(buf) - pos >= 4:
            length = self._frame_at(buf, pos)
            if length is None:
                if buf[pos + 1] & 0x7F == self._awaited:
                    break
                if self.side == "server" and plausible_request(buf, pos, len(buf) - pos):
                    break
                ahead = self._resync_ahead(buf, pos)
                if ahead is None:
                    break
                self.dropped += ahead - pos
                pos = ahead
                continue
            if length == 0:
                pos += 1
                self.dropped += 1
                continue
            frames.append(make_frame(Frame, (buf[pos], buf[pos + 1 : pos + length - 2], 0)))
            if self._expected and buf[pos + 1] & 0x7F == 0x08:
                self._expected.popleft()
            pos += length
        self._buffer = buf[pos:] if pos else buf
        return frames

    def _frame_at(self, buf: bytes, pos: int) -> int | None:
        """Length of the valid frame at ``pos``; 0 if none starts there; None: need more."""
        avail = len(buf) - pos
        length = self._length(buf, pos, avail)
        if length is None:
            return None
        if length < 0:
            if not self._expected or buf[pos + 1] != 0x08:
                return self._scan(buf, pos, avail)
            length = self._expected[0]
        if length > RTU_MAX_FRAME:
            return 0
        if avail < length:
            return None
        crc = buf[pos + length - 2] | (buf[pos + length - 1] << 8)
        return length if crc16(buf[pos : pos + length - 2]) == crc else 0

    def _resync_ahead(self, buf: bytes, pos: int) -> int | None:
        """Offset of a complete frame of known length after ``pos``, if there is one."""
        for start in range(pos + 1, len(buf) - 3):
            avail = len(buf) - start
            length = self._length(buf, start, avail)
            if length is None or length < 4 or length > min(avail, RTU_MAX_FRAME):
                continue
            crc = buf[start + length - 2] | (buf[start + length - 1] << 8)
            if crc16(buf[start : start + length - 2]) == crc:
                return start
        return None

    @staticmethod
    def _scan(buf: bytes, pos: int, avail: int) -> int | None:
        """Length of the longest prefix at ``pos`` (within the bytes received) ending in its CRC.

        The longest, because data bytes can end in a false CRC match (one chance in
        65536 per position) while a whole frame received in one piece ends at the
        last match; two frames back to back do not chain into one match. Returns 0
        when none is found within the largest frame, None when more bytes could
        still complete one.
        """
        crc = 0xFFFF
        table = CRC_TABLE
        found = 0
        for i in range(min(avail, RTU_MAX_FRAME) - 2):
            crc = (crc >> 8) ^ table[(crc ^ buf[pos + i]) & 0xFF]
            if i >= 1 and crc == buf[pos + i + 1] | (buf[pos + i + 2] << 8):
                found = i + 3
        if found:
            return found
        return 0 if avail >= RTU_MAX_FRAME else None

    def pending(self) -> int:
        """Return the number of buffered bytes of a partial frame."""
        return len(self._buffer)

    def discard_partial(self) -> int:
        """Drop a partial frame (after an inter-frame silence) and count its bytes.

        Returns:
            The number of bytes dropped.
        """
        count = len(self._buffer)
        self.dropped += count
        self._buffer = b""
        return count

    def reset(self) -> None:
        """Forget the buffered bytes, without counting them, and the requests in flight."""
        self._buffer = b""
        self._expected.clear()
        self._awaited = None


class ASCIIFramer:
    """Modbus ASCII framing: ``:``, hex of address, PDU and LRC, then CR LF.

    Anything before a ``:`` is dropped; a ``:`` inside a frame restarts it; a frame
    with a bad hex digit or a wrong LRC is dropped.

    Args:
        side: Accepted for symmetry with :class:`RTUFramer`; ASCII frames carry
            their own end, so both sides parse alike.

    Attributes:
        dropped: Bytes discarded because they belonged to no valid frame.
    """

    def __init__(self, *, side: Side = "client") -> None:
        if side not in ("client", "server"):
            raise ProtocolArgumentError(f"side={side!r} must be 'client' or 'server'")
        self.side: Side = side
        self._buffer = b""
        self.dropped = 0

    def encode(self, unit: int, pdu: bytes, transaction_id: int = 0) -> bytes:
        """Return the ASCII frame of one PDU.

        Args:
            unit: Unit address, 0 (broadcast) to 255.
            pdu: Function code and data, 1 to 253 bytes.
            transaction_id: Ignored (ASCII has none).

        Returns:
            ``b":" + HEX + b"\\r\\n"`` with upper-case hex digits.

        Raises:
            ProtocolArgumentError: If an argument is out of range.
        """
        check_unit(unit)
        check_pdu(pdu)
        body = bytes((unit,)) + pdu
        return b":" + binascii.hexlify(body + bytes((lrc(body),))).upper() + b"\r\n"

    def feed(self, data: bytes) -> list[Frame]:
        """Add received bytes and return the frames they complete.

        Args:
            data: The bytes, in any chunking.

        Returns:
            The complete frames with a valid LRC, oldest first.
        """
        buf = self._buffer + data if self._buffer else data
        frames: list[Frame] = []
        while buf:
            start = buf.find(b":")
            if start < 0:
                self.dropped += len(buf)
                buf = b""
                break
            if start:
                self.dropped += start
                buf = buf[start:]
            end = buf.find(b"\r\n")
            restart = buf.find(b":", 1, end if end >= 0 else len(buf))
            if restart > 0:
                self.dropped += restart
                buf = buf[restart:]
                continue
            if end < 0:
                if len(buf) > ASCII_MAX_FRAME:
                    self.dropped += len(buf)
                    buf = b""
                break
            frame = self._decode(buf[1:end])
            if frame is None:
                self.dropped += end + 2
            else:
                frames.append(frame)
            buf = buf[end + 2 :]
        self._buffer = buf
        return frames

    @staticmethod
    def _decode(text: bytes) -> Frame | None:
        if len(text) < 6 or len(text) % 2:
            return None
        try:
            raw = binascii.unhexlify(text)
        except (binascii.Error, ValueError):
            return None
        if lrc(raw[:-1]) != raw[-1] or len(raw) - 2 > MAX_PDU:
            return None
        return Frame(raw[0], raw[1:-1])

    def pending(self) -> int:
        """Return the number of buffered bytes of a partial frame."""
        return len(self._buffer)

    def expect_answer_to(self, pdu: bytes) -> None:
        """Accept the request hint of :meth:`RTUFramer.expect_answer_to`; ASCII needs none."""

    def discard_partial(self) -> int:
        """Drop a partial frame and count its bytes.

        Returns:
            The number of bytes dropped.
        """
        count = len(self._buffer)
        self.dropped += count
        self._buffer = b""
        return count

    def reset(self) -> None:
        """Forget the buffered bytes without counting them."""
        self._buffer = b""

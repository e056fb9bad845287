"""How long an RTU frame is, from its first bytes: the oracle the RTU framer cuts by.

RTU has no length field; a frame's length follows from its function code and, for
some codes, a byte count inside it. These functions read only the bytes they need
and say when more are needed, so a frame is found by length and CRC, never by timing.
"""

from __future__ import annotations

from eq1_network.protocols.modbus._spec import EXCEPTION_BIT, RTU_MAX_FRAME

__all__ = ["plausible_request", "request_length", "response_length"]


def response_length(buf: bytes, pos: int, avail: int) -> int | None:
    """Length of the RTU response frame starting at ``pos``, from its first bytes.

    Args:
        buf: The receive buffer.
        pos: Where the frame starts (its unit address).
        avail: Bytes available from ``pos``.

    Returns:
        The length, ``None`` if more bytes are needed to tell, or ``-1`` if the
        function code has no known shape (the framer then finds the end by CRC).
    """
    function = buf[pos + 1]
    if function & EXCEPTION_BIT:
        return 5
    if function in (0x01, 0x02, 0x03, 0x04, 0x11, 0x17):
        return None if avail < 3 else 5 + buf[pos + 2]
    if function in (0x05, 0x06, 0x0F, 0x10):
        return 8
    if function == 0x07:
        return 5
    if function == 0x16:
        return 10
    if function == 0x2B:
        return _device_id_length(buf, pos, avail)
    return -1


def _device_id_length(buf: bytes, pos: int, avail: int) -> int | None:
    if avail < 3:
        return None
    if buf[pos + 2] != 0x0E:
        return -1
    if avail < 8:
        return None
    offset = 8
    for _ in range(buf[pos + 7]):
        if avail < offset + 2:
            return None
        offset += 2 + buf[pos + offset + 1]
        if offset > RTU_MAX_FRAME:
            return RTU_MAX_FRAME + 1
    return offset + 2


def request_length(buf: bytes, pos: int, avail: int) -> int | None:
    """Length of the RTU request frame at ``pos``; the same contract as :func:`response_length`."""
    function = buf[pos + 1]
    if function in (0x01, 0x02, 0x03, 0x04, 0x05, 0x06):
        return 8
    if function in (0x07, 0x11):
        return 4
    if function in (0x0F, 0x10):
        return None if avail < 7 else 9 + buf[pos + 6]
    if function == 0x16:
        return 10
    if function == 0x17:
        return None if avail < 11 else 13 + buf[pos + 10]
    if function == 0x2B:
        return 7
    return -1


def plausible_request(buf: bytes, pos: int, avail: int) -> bool:
    """Whether a partial write request at ``pos`` is consistent enough to wait for.

    Its data may hold bytes that look like a whole frame, so the look-ahead must not
    take them for one; a byte count that matches the quantity tells a real request
    from noise (random bytes almost never match).
    """
    function = buf[pos + 1]
    if function in (0x0F, 0x10):
        if avail < 7:
            return True
        quantity = buf[pos + 4] << 8 | buf[pos + 5]
        expected = 2 * quantity if function == 0x10 else (quantity + 7) // 8
        return 0 < buf[pos + 6] == expected
    if function == 0x17:
        if avail < 11:
            return True
        return 0 < buf[pos + 10] == 2 * (buf[pos + 8] << 8 | buf[pos + 9])
    return False

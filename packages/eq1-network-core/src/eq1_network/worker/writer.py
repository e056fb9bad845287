"""How the send worker turns messages into frames and writes them through the link.

:func:`encode_to_fit` frames a message that its sender could not frame (too large for
one frame or for one message of a message transport); :class:`FrameWriter` writes
frames in chunks of a bounded size, sends replies to the peers they answer, and
reports what a failed write means for the link.
"""

from __future__ import annotations

import operator
import threading
from collections.abc import Callable
from typing import Any

from eq1_network.common.exceptions import (
    PacketSizeError,
    PayloadTooLargeError,
    ProtocolConnectionError,
    ProtocolError,
)
from eq1_network.common.logging import get_logger
from eq1_network.data import SendData
from eq1_network.packets.fragmentation import split_message
from eq1_network.packets.message import Message
from eq1_network.packets.send import TypedSendData
from eq1_network.worker.events import NetworkEvent, NetworkEventType
from eq1_network.worker.link import Link
from eq1_network.worker.peers import ReplyRouter

__all__ = ["Encoded", "FrameWriter", "encode_to_fit", "frames_of"]

logger = get_logger("eq1_network.worker.requester")  # the send worker's records

Encoded = tuple[SendData, bytes | list[bytes]]
"""A message with its frame, or with the frames of a message that had to be split."""

_IDLE = 0.1
_second = operator.itemgetter(1)


def frames_of(batch: list[Encoded]) -> list[bytes]:
    """The frames of a batch, in order (the loops run in C unless a message was split)."""
    encoded: list[Any] = list(map(_second, batch))
    if list not in set(map(type, encoded)):
        return encoded
    frames: list[bytes] = []
    for entry in encoded:
        if isinstance(entry, bytes):
            frames.append(entry)
        else:
            frames.extend(entry)
    return frames


def encode_to_fit(
    package: Any, item: SendData, max_message: int | None, max_payload: int | None
) -> bytes | list[bytes]:
    """Encode a message into one frame, or split it into frames that each fit.

    Args:
        package: The ``DataPackage`` that encodes it.
        item: The message.
        max_message: The transport's ``max_message_size``, or ``None``.
        max_payload: The largest frame payload that fits one message, or ``None``.

    Returns:
        The frame, or the frames of the split message.

    Raises:
        PayloadTooLargeError: If an untyped message does not fit one message.
        ProtocolError: If the message cannot be encoded.
    """
    try:
        frame: bytes = package.encode(item)
        if max_message is None or len(frame) <= max_message:
            return frame
    except PacketSizeError:
        if max_payload is None:
            return list(package.encode_frames(item))
    if not isinstance(item, (TypedSendData, Message)):
        raise PayloadTooLargeError(
            f"a {type(item).__name__} does not fit the transport's messages of "
            f"{max_message} bytes, and only typed messages can be split"
        )
    return split_message(item, structure=package.packet_structure, max_payload=max_payload)


class FrameWriter:
    """Writes the send worker's frames through a link.

    Args:
        link: The connection.
        emit: Where events go.
        abort: Set when the worker must stop at once (the waits after a failure end).
        max_write_bytes: Most bytes joined into one ``send`` call.
        router: Where replies go, when the protocol serves many peers.
        rejected: Where messages that a peer could not take are kept.
    """

    __slots__ = ("_abort", "_emit", "_link", "_max_write_bytes", "_rejected", "_router")

    def __init__(
        self,
        link: Link,
        emit: Callable[[NetworkEvent], None],
        abort: threading.Event,
        max_write_bytes: int,
        router: ReplyRouter | None,
        rejected: list[SendData],
    ) -> None:
        self._link = link
        self._emit = emit
        self._abort = abort
        self._max_write_bytes = max_write_bytes
        self._router = router
        self._rejected = rejected

    def send_frames(self, frames: list[bytes], send: Callable[[bytes], None] | None = None) -> None:
        """Write ``frames`` in writes of up to ``max_write_bytes``; errors propagate.

        Args:
            frames: The frames.
            send: Writes one chunk; the link's ``send`` by default.
        """
        if send is None:
            send = self._link.send
        if sum(map(len, frames)) <= self._max_write_bytes:  # the usual case: one write
            send(frames[0] if len(frames) == 1 else b"".join(frames))
            return
        chunk: list[bytes] = []
        size = 0
        for frame in frames:
            if chunk and size + len(frame) > self._max_write_bytes:
                send(b"".join(chunk))
                chunk, size = [], 0
            chunk.append(frame)
            size += len(frame)
        if chunk:
            send(chunk[0] if len(chunk) == 1 else b"".join(chunk))

    def write_frames(self, frames: list[bytes]) -> bool:
        """Write ``frames``; on failure, report it and mark the link down where it is.

        Returns:
            ``True`` if every frame was written.
        """
        try:
            self.send_frames(frames)
        except ProtocolConnectionError as exc:
            if self._link.up.is_set():
                # The transport is still up (a server with no client to answer, say):
                # report, wait a little and try the same frames again.
                self._emit(NetworkEvent(NetworkEventType.ERROR, error=exc))
                self._abort.wait(_IDLE)
            return False
        except ProtocolError as exc:
            logger.error("write failed: %s", exc)
            self._emit(NetworkEvent(NetworkEventType.ERROR, error=exc))
            if self._link.multi_peer is not None and self._link.protocol.is_connected():
                # One peer failed (it accepts nothing, say); the others are unaffected.
                self._abort.wait(_IDLE)
            else:
                self._link.mark_down(exc)
            return False
        return True

    def write_routed(self, batch: list[Encoded]) -> tuple[list[Encoded], int]:
        """Write a batch holding replies, each run of one destination in one write.

        Returns:
            The messages written, and how many of the batch were handled (written, or
            reported because their peer could not take them); the rest stays pending.
        """
        router = self._router
        assert router is not None
        destination = router.destination
        done: list[Encoded] = []
        start, size = 0, len(batch)
        while start < size:
            peer = destination(batch[start][0])
            end = start + 1
            while end < size and destination(batch[end][0]) == peer:
                end += 1
            run = batch[start:end]
            if peer is None:
                if not self.write_frames(frames_of(run)):
                    return done, start
                done.extend(run)
            elif self._write_to_peer(peer, run):
                done.extend(run)
            elif not self._link.up.is_set():
                return done, start
            for item, _ in run:
                router.release(item)
            start = end
        return done, size

    def _write_to_peer(self, peer: object, run: list[Encoded]) -> bool:
        """Write replies to one peer; report them if that peer cannot take them."""
        link = self._link
        try:
            self.send_frames(frames_of(run), lambda data: link.send_to(peer, data))
        except ProtocolError as exc:
            if not link.protocol.is_connected():
                link.mark_down(exc)
                return False
            multi = link.multi_peer
            if multi is not None and not isinstance(exc, ProtocolConnectionError):
                multi.disconnect_peer(peer)  # it accepts nothing: dropped alone
            logger.error("%d message(s) to %s not delivered: %s", len(run), peer, exc)
            for item, _ in run:
                self._rejected.append(item)
                error = ProtocolConnectionError(f"message not delivered to {peer}: {exc}")
                error.__cause__ = exc
                self._emit(NetworkEvent(NetworkEventType.ERROR, data=item, error=error))
            return False
        return True

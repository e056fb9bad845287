"""``DataPackage``: a packet structure bundled with its send and received classes.

A :class:`DataPackage` is the one object a sender or receiver needs: it turns a
:class:`~eq1_network.data.SendData` into a complete frame and a frame back into a
:class:`~eq1_network.data.ReceivedData`. Predefined packages use
:class:`~eq1_network.packets.NetworkPacketStructure` framing and the typed message
classes:

=================  ====================  ========================
Package            Send class            Received class
=================  ====================  ========================
``TEXT_PACKAGE``   ``TextSendData``      ``TextReceivedData``
``BINARY_PACKAGE`` ``BinarySendData``    ``BinaryReceivedData``
``INT_PACKAGE``    ``IntSendData``       ``IntReceivedData``
``JSON_PACKAGE``   ``JsonSendData``      ``JsonReceivedData``
``ANY_PACKAGE``    any ``TypedSendData`` ``TypedReceivedData`` (every format)
=================  ====================  ========================

Sending and receiving over a stream, with messages of any size::

    for frame in package.encode_frames(send_data):      # one frame, or fragments
        transport.send(frame)

    stream, reassembler = package.stream(), Reassembler()   # one pair per connection
    for payload in stream.feed_payloads(chunk):              # for every chunk read
        received = package.receive_payload(payload, reassembler)
        if received is not None:                              # None: fragment kept
            handle(received)

Sequence numbers: :meth:`DataPackage.encode` gives a typed message whose
``sequence`` is 0 the next number of the package's own counter (1, 2, 3, ... per
package object, thread-safe) and stores it on the message, so the caller can read it
back. A caller that needs its own numbering (per connection, or the same number when
resending) sets a non-zero ``sequence`` before encoding, and the package keeps it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from eq1_network.common.exceptions import PacketSizeError, PayloadTooLargeError, ProtocolTypeError
from eq1_network.data import ReceivedData, SendData
from eq1_network.packets._binding import Structure, bind_structure, length_prefix_limit
from eq1_network.packets.fragmentation import Reassembler, split_message
from eq1_network.packets.framing import NetworkPacketStructure
from eq1_network.packets.header import FLAGS_OFFSET, HEADER_VERSION
from eq1_network.packets.kinds import MessageFlags
from eq1_network.packets.message import Message
from eq1_network.packets.reader import TypedStreamReader
from eq1_network.packets.received import (
    BinaryReceivedData,
    IntReceivedData,
    JsonReceivedData,
    TextReceivedData,
    TypedReceivedData,
)
from eq1_network.packets.send import (
    BinarySendData,
    IntSendData,
    JsonSendData,
    SequenceCounter,
    TextSendData,
    TypedSendData,
)
from eq1_network.packets.stream import PacketStream

__all__ = [
    "ANY_PACKAGE",
    "BINARY_PACKAGE",
    "INT_PACKAGE",
    "JSON_PACKAGE",
    "TEXT_PACKAGE",
    "DataPackage",
]

_TYPED, _MESSAGE, _OTHER = 1, 2, 3
_FRAGMENT_BIT = int(MessageFlags.FRAGMENT)
_S = TypeVar("_S", bound=SendData)
_R = TypeVar("_R", bound=ReceivedData)


class DataPackage(Generic[_S, _R]):
    """A packet structure with the classes that fill and read its payloads.

    Args:
        packet_structure: The packet structure, as a class or an instance.
        send_data_class: The :class:`~eq1_network.data.SendData` subclass that
            :meth:`encode` accepts (instances of its subclasses too).
        received_data_class: The :class:`~eq1_network.data.ReceivedData` subclass that
            :meth:`decode` returns.

    Raises:
        ProtocolTypeError: If an argument is not of the kind described.

    Attributes:
        packet_structure: The packet structure.
        send_data_class: The send class.
        received_data_class: The received class.
    """

    __slots__ = (
        "_counter",
        "_frame_limit",
        "_from_bytes",
        "_from_packet",
        "_kinds",
        "_lock",
        "_to_packet",
        "_typed_receive",
        "packet_structure",
        "received_data_class",
        "send_data_class",
    )

    def __init__(
        self,
        packet_structure: Structure,
        send_data_class: type[_S],
        received_data_class: type[_R],
    ) -> None:
        methods = bind_structure(packet_structure)
        if not (isinstance(send_data_class, type) and issubclass(send_data_class, SendData)):
            raise ProtocolTypeError(
                f"send_data_class must be a SendData subclass, got {send_data_class!r}"
            )
        if not (
            isinstance(received_data_class, type) and issubclass(received_data_class, ReceivedData)
        ):
            raise ProtocolTypeError(
                f"received_data_class must be a ReceivedData subclass, got {received_data_class!r}"
            )
        self.packet_structure = packet_structure
        self.send_data_class = send_data_class
        self.received_data_class = received_data_class
        self._to_packet = methods.to_packet
        self._from_packet = methods.from_packet
        self._from_bytes = received_data_class.from_bytes
        limit = length_prefix_limit(packet_structure)
        self._frame_limit = -1 if limit is None else limit
        self._kinds: dict[type, int] = {}
        self._typed_receive = issubclass(received_data_class, (TypedReceivedData, Message))
        self._counter = SequenceCounter()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"DataPackage({_name(self.packet_structure)}, {self.send_data_class.__name__}, "
            f"{self.received_data_class.__name__})"
        )

    def next_sequence(self) -> int:
        """Take the next number of this package's sequence counter.

        Returns:
            1, 2, 3, ... (wrapping back to 1 after 2**64 - 1).
        """
        with self._lock:
            return self._counter.take()

    def _admit(self, send_data: object) -> int:
        """Check the type of ``send_data`` once per class; return its kind."""
        if not isinstance(send_data, self.send_data_class):
            raise ProtocolTypeError(
                f"this package sends {self.send_data_class.__name__}, "
                f"got {type(send_data).__name__}"
            )
        if isinstance(send_data, TypedSendData):
            kind = _TYPED
        elif isinstance(send_data, Message):
            kind = _MESSAGE
        else:
            kind = _OTHER
        self._kinds[type(send_data)] = kind
        return kind

    def _prepare(self, send_data: object) -> int:
        """Check ``send_data`` and give it a sequence number if it needs one."""
        kind = self._kinds.get(send_data.__class__)
        if kind is None:
            kind = self._admit(send_data)
        if kind == _TYPED:
            typed: Any = send_data
            with self._lock:
                self._counter.assign(typed)
        elif kind == _MESSAGE:
            message: Any = send_data
            if message.sequence == 0:
                message.sequence = self.next_sequence()
        return kind

    def encode(self, send_data: _S) -> bytes:
        """Serialise ``send_data`` into one complete packet.

        A typed message with ``sequence == 0`` gets the package's next sequence number
        (stored on ``send_data``).

        Args:
            send_data: An instance of :attr:`send_data_class`.

        Returns:
            The packet.

        Raises:
            ProtocolTypeError: If ``send_data`` is not an instance of the send class.
            PayloadTooLargeError: If the payload exceeds the structure's limit; use
                :meth:`encode_frames` for messages that may need splitting.
        """
        kind = self._kinds.get(send_data.__class__)
        try:
            if kind == _TYPED and self._frame_limit >= 0:
                typed: Any = send_data  # the hot path
                with self._lock:
                    self._counter.assign(typed)
                frame: bytes = typed.to_frame(self._frame_limit)
                return frame
            self._prepare(send_data)
            return self._to_packet(send_data.to_bytes())
        except PacketSizeError as exc:
            raise PayloadTooLargeError(f"{exc}; encode_frames() splits large messages") from None

    def encode_frames(self, send_data: _S) -> list[bytes]:
        """Serialise ``send_data`` into one packet, or several fragments if it is too big.

        Args:
            send_data: An instance of :attr:`send_data_class`.

        Returns:
            The packets, in order. Non-typed send classes always give one packet.

        Raises:
            ProtocolTypeError: If ``send_data`` is not an instance of the send class.
            PacketSizeError: If a non-typed payload exceeds the structure's limit.
            ProtocolConfigurationError: If the structure has no ``max_payload``.
        """
        if self._prepare(send_data) != _OTHER:
            message: Any = send_data
            return split_message(message, structure=self.packet_structure)
        return [self._to_packet(send_data.to_bytes())]

    def decode(self, packet: bytes) -> _R:
        """Deserialise one complete packet.

        Args:
            packet: One packet, as returned by :meth:`encode`.

        Returns:
            An instance of :attr:`received_data_class`.

        Raises:
            ValueError: If the packet or its payload is invalid; the library's own
                classes raise :class:`~eq1_network.common.exceptions.PacketError`
                subclasses (:class:`~eq1_network.common.exceptions.FragmentError` for a
                fragment: use :meth:`decode_message` and a
                :class:`~eq1_network.packets.Reassembler`).
            ProtocolTypeError: If ``packet`` is not bytes-like.
        """
        result: _R = self._from_bytes(self._from_packet(packet))
        return result

    def decode_payload(self, payload: bytes) -> _R:
        """Deserialise a payload that was already taken out of its packet.

        The fast path behind :meth:`PacketStream.feed_payloads
        <eq1_network.packets.PacketStream.feed_payloads>`.

        Args:
            payload: One payload.

        Returns:
            An instance of :attr:`received_data_class`.

        Raises:
            ValueError: If the payload is invalid (see :meth:`decode`).
            ProtocolTypeError: If ``payload`` is not bytes-like.
        """
        result: _R = self._from_bytes(payload)
        return result

    def receive_payload(self, payload: bytes, reassembler: Reassembler) -> _R | None:
        """Decode one received payload, passing fragments through ``reassembler``.

        The receive pipeline for typed packages: a whole message is decoded on the fast
        path of :meth:`decode_payload`; a fragment goes to the reassembler, and the
        merged message is decoded when its last fragment arrives. Packages whose
        received class is not typed just decode the payload.

        Args:
            payload: One payload, as from :meth:`PacketStream.feed_payloads
                <eq1_network.packets.PacketStream.feed_payloads>`.
            reassembler: Holds the fragments of split messages (one per connection).

        Returns:
            The received object, or ``None`` while a split message is incomplete.

        Raises:
            ValueError: If the payload is invalid (see :meth:`decode`).
            FragmentError: If a fragment is rejected by the reassembler.
            ProtocolTypeError: If ``payload`` is not bytes-like.
        """
        if (
            self._typed_receive
            and len(payload) > FLAGS_OFFSET
            and payload[0] == HEADER_VERSION
            and payload[FLAGS_OFFSET] & _FRAGMENT_BIT
        ):
            merged = reassembler.add(Message.from_bytes(payload))
            return None if merged is None else self.from_message(merged)
        result: _R = self._from_bytes(payload)
        return result

    def decode_message(self, payload: bytes) -> Message:
        """Decode only the header of a typed message payload (fragments included).

        Receivers that may get split messages use it with a
        :class:`~eq1_network.packets.Reassembler` and :meth:`from_message`.

        Args:
            payload: One typed message payload.

        Returns:
            The message with its value still encoded.

        Raises:
            MalformedPacketError: If the header is invalid.
            ProtocolTypeError: If ``payload`` is not bytes-like.
        """
        return Message.from_bytes(payload)

    def from_message(self, message: Message) -> _R:
        """Decode the value of a whole :class:`~eq1_network.packets.Message`.

        Args:
            message: A message that is not a fragment (for example from a
                :class:`~eq1_network.packets.Reassembler`).

        Returns:
            An instance of :attr:`received_data_class`.

        Raises:
            ProtocolTypeError: If the received class is not a typed class or
                :class:`~eq1_network.packets.Message`.
            MalformedPacketError: If the value is invalid or of another format.
            FragmentError: If ``message`` is a fragment.
        """
        cls: Any = self.received_data_class
        if issubclass(cls, TypedReceivedData):
            result: _R = cls.from_message(message)
            return result
        if issubclass(cls, Message):
            return message  # type: ignore[return-value]
        raise ProtocolTypeError(
            f"{cls.__name__} is not a typed received class; from_message needs one"
        )

    def direct_frame_limit(self) -> int | None:
        """Return the limit for which :meth:`encode` is ``message.to_frame(limit)``, if any.

        Returns:
            It, for typed messages over the standard length-prefixed framing with
            :meth:`encode` not overridden (for messages that have their sequence
            number); else ``None``, and messages must go through :meth:`encode`.
        """
        if (
            self._frame_limit < 0
            or type(self).encode is not DataPackage.encode
            or not issubclass(self.send_data_class, TypedSendData)
        ):
            return None
        return self._frame_limit

    def plain_packet_encoder(self) -> Callable[[bytes], bytes] | None:
        """Return the framing that :meth:`encode` applies to ``message.to_bytes()``, if pure.

        Returns:
            The structure's ``to_packet`` when the send class is neither typed nor a
            ``Message`` and :meth:`encode` is not overridden (``encode(m)`` is then
            ``to_packet(m.to_bytes())`` for ``m`` of exactly the send class); else ``None``.
        """
        if type(self).encode is not DataPackage.encode or issubclass(
            self.send_data_class, (TypedSendData, Message)
        ):
            return None
        return self._to_packet

    def payload_decoder(self) -> Callable[[bytes], _R]:
        """Return the callable behind :meth:`decode_payload`, for receive loops.

        Returns:
            ``received_data_class.from_bytes`` when :meth:`decode_payload` is not
            overridden (one call less per message), else the bound
            :meth:`decode_payload`.
        """
        if type(self).decode_payload is DataPackage.decode_payload:
            decoder: Callable[[bytes], _R] = self._from_bytes
            return decoder
        return self.decode_payload

    def stream_reader(self, stream: PacketStream) -> TypedStreamReader | None:
        """Return a reader that decodes this package's messages straight out of ``stream``.

        Available for typed received classes over a length-prefixed structure, when
        :meth:`decode_payload` and :meth:`receive_payload` are not overridden: there the
        reader gives what ``feed_payloads`` followed by :meth:`receive_payload` gives,
        with less work per message.

        Args:
            stream: A stream made by :meth:`stream`.

        Returns:
            The reader, or ``None`` if this package must decode payload by payload.
        """
        cls = type(self)
        if (
            stream.payload_limit is None
            or not issubclass(self.received_data_class, TypedReceivedData)
            or cls.decode_payload is not DataPackage.decode_payload
            or cls.receive_payload is not DataPackage.receive_payload
        ):
            return None
        return TypedStreamReader(self.received_data_class, stream)

    def stream(self, *, max_buffer: int | None = None) -> PacketStream:
        """Create a :class:`~eq1_network.packets.PacketStream` for this package's structure.

        Args:
            max_buffer: See :class:`~eq1_network.packets.PacketStream`.

        Returns:
            A new stream.
        """
        return PacketStream(self.packet_structure, max_buffer=max_buffer)


def _name(structure: object) -> str:
    return structure.__name__ if isinstance(structure, type) else repr(structure)


TEXT_PACKAGE: DataPackage[TextSendData, TextReceivedData] = DataPackage(
    NetworkPacketStructure, TextSendData, TextReceivedData
)
"""TEXT messages (``str``) in NetworkPacketStructure frames."""

BINARY_PACKAGE: DataPackage[BinarySendData, BinaryReceivedData] = DataPackage(
    NetworkPacketStructure, BinarySendData, BinaryReceivedData
)
"""BINARY messages (``bytes``) in NetworkPacketStructure frames."""

INT_PACKAGE: DataPackage[IntSendData, IntReceivedData] = DataPackage(
    NetworkPacketStructure, IntSendData, IntReceivedData
)
"""INT messages (signed 64-bit ``int``) in NetworkPacketStructure frames."""

JSON_PACKAGE: DataPackage[JsonSendData, JsonReceivedData] = DataPackage(
    NetworkPacketStructure, JsonSendData, JsonReceivedData
)
"""JSON messages (``dict``/``list``) in NetworkPacketStructure frames."""

ANY_PACKAGE: DataPackage[TypedSendData[Any], TypedReceivedData[Any]] = DataPackage(
    NetworkPacketStructure, TypedSendData, TypedReceivedData
)
"""Typed messages of every format; decoding returns the subclass matching the format."""

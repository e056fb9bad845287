"""Contract tests every request/response protocol must pass.

Subclass :class:`ReqResContract` in a pytest module and provide a ``protocol``
fixture yielding an *unconnected* protocol whose peer echoes back every byte it
receives::

    class TestMyProtocol(ReqResContract):
        @pytest.fixture
        def protocol(self, my_echo_peer):
            proto = MyProtocol(my_echo_peer.address)
            yield proto
            proto.disconnect()

Override :meth:`ReqResContract.after_connect` when the protocol needs the peer to
speak first (a server that replies to the client it last heard from).

Message-oriented transports (datagrams, framed fieldbus messages) set
:attr:`ReqResContract.preserves_boundaries` and :attr:`ReqResContract.max_message_size`:
the suite then never sends more than one message's worth in one ``send()``, and checks
that every ``read()`` returns exactly one whole message::

    class TestMyDatagrams(ReqResContract):
        preserves_boundaries = True
        max_message_size = 1472

A protocol whose peer echoes only messages of a given shape (a fieldbus whose
diagnostic request is answered with the same bytes) overrides :meth:`ReqResContract.to_message`
and :meth:`ReqResContract.from_message`: the suite wraps every test payload before
``send()`` and unwraps every message read::

    class TestMyFieldbus(ReqResContract):
        preserves_boundaries = True
        max_message_size = 250

        def to_message(self, payload: bytes) -> bytes:
            return b"\x08\x00\x00" + payload

        def from_message(self, message: bytes) -> bytes:
            assert message[:3] == b"\x08\x00\x00"
            return message[3:]
"""

from __future__ import annotations

import threading
import time

import pytest

from eq1_network.common.exceptions import ProtocolConnectionError
from eq1_network.interfaces.protocol import ReqResProtocol
from eq1_network.manager.reqres import ReqResManager
from eq1_network.testing._collect import read_exactly

__all__ = ["ReqResContract"]


class ReqResContract:
    """Behaviour shared by every :class:`ReqResProtocol`."""

    #: Seconds to wait for the echo of anything sent; generous for busy machines.
    timeout: float = 15.0

    #: ``True`` for a message-oriented protocol: each ``send()`` is one message and each
    #: ``read()`` returns exactly one whole message. ``False`` for a byte stream, where
    #: reads may split or join what was sent.
    preserves_boundaries: bool = False

    #: Largest payload one ``send()`` may carry, in bytes; ``None`` for no limit. Larger
    #: test payloads are sent as several messages of at most this size.
    max_message_size: int | None = None

    @pytest.fixture
    def protocol(self) -> ReqResProtocol:
        """Return an unconnected protocol whose peer echoes; subclasses must override."""
        raise NotImplementedError("subclasses provide a 'protocol' fixture")

    def after_connect(self, protocol: ReqResProtocol) -> None:
        """Hook run after each ``connect()`` in the suite; default does nothing.

        Args:
            protocol: The connected protocol.
        """

    def connected(self, protocol: ReqResProtocol) -> ReqResProtocol:
        """Connect ``protocol``, assert success and run :meth:`after_connect`.

        Args:
            protocol: The protocol.

        Returns:
            The same protocol, connected.
        """
        assert protocol.connect() is True
        self.after_connect(protocol)
        return protocol

    def to_message(self, payload: bytes) -> bytes:
        """Wrap a test payload into the message the protocol sends; default: as is.

        Args:
            payload: The test's bytes, at most :attr:`max_message_size` long.

        Returns:
            The bytes passed to ``send()``.
        """
        return payload

    def from_message(self, message: bytes) -> bytes:
        """Unwrap a message read back into the test payload; default: as is.

        Args:
            message: One message returned by a read.

        Returns:
            The payload it carries.
        """
        return message

    def send_payload(self, protocol: ReqResProtocol, payload: bytes) -> None:
        """Send one payload as :meth:`to_message` wraps it; assert the whole message went.

        Args:
            protocol: A connected protocol.
            payload: The test's bytes.
        """
        message = self.to_message(payload)
        assert protocol.send(message) == len(message)

    def chunks(self, data: bytes) -> list[bytes]:
        """Split ``data`` into pieces of at most :attr:`max_message_size` bytes.

        Args:
            data: The payload.

        Returns:
            The pieces, in order (one piece when there is no limit).
        """
        size = self.max_message_size or len(data) or 1
        return [data[i : i + size] for i in range(0, len(data), size)] or [b""]

    def read_message(self, protocol: ReqResProtocol) -> bytes:
        """Read one message of a message-oriented protocol, waiting up to :attr:`timeout`.

        Args:
            protocol: A connected protocol.

        Returns:
            The message's payload (see :meth:`from_message`).

        Raises:
            AssertionError: If no message arrived in time.
        """
        message = protocol.read_within(self.timeout)
        assert message is not None, f"no message within {self.timeout} s"
        return self.from_message(message)

    def echo(self, protocol: ReqResProtocol, data: bytes) -> bytes:
        """Send ``data`` and return what came back.

        A message-oriented protocol sends it as messages of at most
        :attr:`max_message_size` bytes and must return each one whole, in one read.

        Args:
            protocol: A connected protocol.
            data: Bytes to send.

        Returns:
            The bytes read back.
        """
        if not self.preserves_boundaries:
            assert protocol.send(data) == len(data)
            return read_exactly(protocol, len(data), self.timeout)
        back = bytearray()
        for piece in self.chunks(data):
            self.send_payload(protocol, piece)
            message = self.read_message(protocol)
            assert message == piece, f"message of {len(piece)} bytes came back as {len(message)}"
            back += message
        return bytes(back)

    def test_connect_sets_connected(self, protocol: ReqResProtocol) -> None:
        assert protocol.is_connected() is False
        self.connected(protocol)
        assert protocol.is_connected() is True
        protocol.disconnect()
        assert protocol.is_connected() is False

    def test_disconnect_is_idempotent(self, protocol: ReqResProtocol) -> None:
        protocol.disconnect()
        self.connected(protocol)
        protocol.disconnect()
        protocol.disconnect()
        assert protocol.is_connected() is False

    def test_context_manager_connects_and_disconnects(self, protocol: ReqResProtocol) -> None:
        with protocol as proto:
            assert proto is protocol
            assert proto.is_connected()
            self.after_connect(proto)
            assert self.echo(proto, b"ctx") == b"ctx"
        assert protocol.is_connected() is False

    def test_read_when_idle_returns_false_none(self, protocol: ReqResProtocol) -> None:
        self.connected(protocol)
        assert protocol.read() == (False, None)

    def test_round_trip_text_and_binary(self, protocol: ReqResProtocol) -> None:
        self.connected(protocol)
        assert self.echo(protocol, b"Hello Server!") == b"Hello Server!"
        every_byte = bytes(range(256)) * 4
        assert self.echo(protocol, every_byte) == every_byte

    def test_round_trip_large_payload(self, protocol: ReqResProtocol) -> None:
        self.connected(protocol)
        payload = bytes(i % 251 for i in range(64 * 1024))
        assert self.echo(protocol, payload) == payload

    def test_send_rejects_text(self, protocol: ReqResProtocol) -> None:
        self.connected(protocol)
        with pytest.raises(TypeError):
            protocol.send("text")  # type: ignore[arg-type]

    def test_send_after_disconnect_raises_connection_error(self, protocol: ReqResProtocol) -> None:
        self.connected(protocol)
        protocol.disconnect()
        with pytest.raises(ProtocolConnectionError):
            protocol.send(b"late")

    def test_concurrent_sends_never_interleave(self, protocol: ReqResProtocol) -> None:
        self.connected(protocol)
        threads, records = 8, 40
        size = min(256, self.max_message_size or 256)
        barrier = threading.Barrier(threads)
        errors: list[BaseException] = []

        def worker(tag: int) -> None:
            try:
                barrier.wait(timeout=self.timeout)
                for _ in range(records):
                    self.send_payload(protocol, bytes([tag]) * size)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        pool = [threading.Thread(target=worker, args=(t + 1,)) for t in range(threads)]
        for t in pool:
            t.start()
        if self.preserves_boundaries:
            messages = [self.read_message(protocol) for _ in range(threads * records)]
            assert all(len(m) == size for m in messages), "a message was split or joined"
            data = b"".join(messages)
        else:
            data = read_exactly(protocol, threads * records * size, self.timeout)
        for t in pool:
            t.join(self.timeout)
        assert not errors
        assert len(data) == threads * records * size
        for offset in range(0, len(data), size):
            record = data[offset : offset + size]
            assert record == record[:1] * size, f"interleaved record at offset {offset}"
        counts = {tag: data[::size].count(tag) for tag in range(1, threads + 1)}
        assert counts == {tag: records for tag in range(1, threads + 1)}

    def test_read_within_returns_data_or_none_in_time(self, protocol: ReqResProtocol) -> None:
        self.connected(protocol)
        started = time.monotonic()
        assert protocol.read_within(0.05) is None
        assert time.monotonic() - started >= 0.04
        assert protocol.read_within(0.0) is None
        self.send_payload(protocol, b"within")
        if self.preserves_boundaries:
            message = protocol.read_within(self.timeout)
            assert message is not None
            assert self.from_message(message) == b"within"
            return
        got = b""
        deadline = time.monotonic() + self.timeout
        while len(got) < 6 and time.monotonic() < deadline:
            got += protocol.read_within(self.timeout) or b""
        assert got == b"within"

    def test_exchange_sends_and_returns_the_answer(self, protocol: ReqResProtocol) -> None:
        self.connected(protocol)
        message = self.to_message(b"exchange")
        got = protocol.exchange(message, self.timeout)
        assert got is not None, f"no answer within {self.timeout} s"
        if self.preserves_boundaries:
            assert self.from_message(got) == b"exchange"
        elif len(got) < len(message):
            got += read_exactly(protocol, len(message) - len(got), self.timeout)
        assert self.preserves_boundaries or got == message
        protocol.disconnect()
        with pytest.raises(ProtocolConnectionError):
            protocol.exchange(message, 0.01)

    def test_consecutive_sends_arrive_in_order(self, protocol: ReqResProtocol) -> None:
        self.connected(protocol)
        sent = [b"first", b"second message", b"3"]
        for message in sent:
            self.send_payload(protocol, message)
        if self.preserves_boundaries:
            assert [self.read_message(protocol) for _ in sent] == sent
        else:
            assert read_exactly(protocol, sum(map(len, sent)), self.timeout) == b"".join(sent)

    def test_manager_round_trip(self, protocol: ReqResProtocol) -> None:
        manager = ReqResManager.isolated()
        manager.register("contract", protocol)
        assert manager.connect("contract") is True
        self.after_connect(protocol)
        message = self.to_message(b"PING")
        assert manager.send("contract", message) == len(message)
        got = manager.read("contract", timeout=self.timeout)
        while len(got) < len(message) and not self.preserves_boundaries:
            got += manager.read("contract", timeout=self.timeout)
        assert self.from_message(got) == b"PING"
        manager.disconnect("contract")
        manager.unregister("contract")

"""Protocol interfaces: :class:`BaseProtocol`, :class:`ReqResProtocol`, :class:`PubSubProtocol`.

Transports implement one of these and nothing else: they move bytes and never
parse application data.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar, runtime_checkable

from eq1_network.common.exceptions import (
    ProtocolConnectionError,
    ProtocolError,
    ProtocolNotConnectedError,
)
from eq1_network.interfaces import _pubsub, _reading

if TYPE_CHECKING:
    from eq1_network.urls import ParsedURL

__all__ = [
    "BaseProtocol",
    "CompletedPublish",
    "MessageCallback",
    "MultiPeerProtocol",
    "ProtocolKind",
    "PubSubProtocol",
    "PublishHandle",
    "ReqResProtocol",
    "has_readiness_wait",
    "serves_many_peers",
]

MessageCallback = Callable[[str, bytes], None]
"""Signature of a subscription callback: ``callback(topic, payload)``."""

_P = TypeVar("_P", bound="BaseProtocol")


class ProtocolKind:
    """Names of the two protocol families, as used in plugin specs and the CLI."""

    REQRES: ClassVar[str] = "reqres"
    PUBSUB: ClassVar[str] = "pubsub"


class BaseProtocol(abc.ABC):
    """Common base of every protocol.

    A protocol is a context manager: ``with proto:`` connects on entry (raising
    :class:`~eq1_network.common.exceptions.ProtocolConnectionError` if that fails)
    and disconnects on exit.

    Attributes:
        protocol_name: Optional registry name used by folder discovery
            (:meth:`eq1_network.ProtocolManager.discover`); the lowercased class
            name is used when it is empty.
    """

    protocol_name: ClassVar[str] = ""

    @classmethod
    def from_url(cls: type[_P], url: str, **overrides: Any) -> _P:
        """Create an unconnected instance from an endpoint URL.

        The URL is mapped to constructor arguments by :meth:`url_kwargs`; the scheme
        is not checked here (:func:`eq1_network.from_url` picks the class by scheme).

        Args:
            url: The endpoint, e.g. ``"tcp://127.0.0.1:5000?timeout=2"``.
            **overrides: Constructor keyword arguments replacing those from the URL.

        Returns:
            The new protocol, not connected.

        Raises:
            ProtocolConfigurationError: If the URL is malformed, lacks a required part,
                or has an unknown or ill-typed parameter; the message names the
                parameter, lists the valid ones and shows the URL with its password masked.
        """
        from eq1_network.urls import build_from_url  # imported on first use: keeps import fast

        return build_from_url(cls, url, overrides)

    @classmethod
    def url_kwargs(cls, url: ParsedURL) -> dict[str, Any]:
        """Map a parsed URL to constructor keyword arguments.

        The default (:func:`eq1_network.urls.default_url_kwargs`) passes ``host``,
        ``port``, ``path``, ``username`` and ``password`` to the constructor parameters
        of those names and each query parameter to the keyword argument of the same
        name, converted by its annotation. Override it when the URL means more.

        Args:
            url: The parsed URL.

        Returns:
            The keyword arguments.

        Raises:
            ProtocolConfigurationError: If a part or parameter does not fit the constructor.
        """
        from eq1_network.urls import default_url_kwargs

        return default_url_kwargs(cls, url)

    @abc.abstractmethod
    def connect(self) -> bool:
        """Establish the connection; a failure is always reported by raising.

        Returns:
            ``True`` once connected (also when already connected). Returning
            ``False`` is deprecated; callers treat it as a failed attempt.

        Raises:
            ProtocolConnectionError: If the attempt failed; the message names the
                endpoint and the reason.
        """

    @abc.abstractmethod
    def disconnect(self) -> None:
        """Close the connection. Calling it when not connected does nothing."""

    @abc.abstractmethod
    def is_connected(self) -> bool:
        """Tell whether the connection is currently established.

        Returns:
            ``True`` if connected.
        """

    def __enter__(self: _P) -> _P:
        if not self.connect():
            raise ProtocolConnectionError(f"{self!r}: connect() failed")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.disconnect()


class ReqResProtocol(BaseProtocol):
    """Request/response transport over a byte stream.

    A transport implements the raw hooks :meth:`_send_raw` and :meth:`_read_raw`
    (and, optionally, :meth:`_wait_readable_raw`, :meth:`_read_within_raw`,
    :meth:`_link_ready`, :meth:`_not_connected_error` and :meth:`_link_error`); the
    public :meth:`send` and :meth:`read` check the argument and the connection and map
    ``OSError`` to the library's exceptions, so every transport behaves alike. Every
    protocol also has the whole-answer reads :meth:`read_until`, :meth:`read_exactly`
    and :meth:`query`.

    Deprecated: a subclass may still override ``send`` and ``read`` themselves (and
    ``read_within`` and ``wait_readable``); it then does its own checks, and creating
    such a class without the hooks warns with a :class:`DeprecationWarning`.

    Timeouts: every waiting read takes ``timeout`` in seconds; ``None`` means the
    protocol's own :attr:`timeout`, or 1 s when that is ``None`` too (the same rule as
    :meth:`ReqResManager.read <eq1_network.ReqResManager.read>`). When it passes, the
    whole-answer reads raise
    :class:`~eq1_network.common.exceptions.ProtocolTimeoutError`; only
    :meth:`read_within` returns ``None`` instead.

    Pushback: bytes a whole-answer read received but does not return (what followed
    the terminator, the bytes received before a timeout or a size error) are kept on
    the instance, and the next :meth:`read`, :meth:`read_within`, :meth:`read_until`
    or :meth:`read_exactly` returns them first (a subclass that overrides ``read``,
    ``read_within`` or ``wait_readable`` has them wrapped when the class is created
    so that they consult this buffer too). Per-peer methods of a server transport
    (``receive``) and message-level reads (``read_json``) do not see it.

    One reader at a time: a protocol does not support concurrent readers; reading
    from two threads at once may split or reorder an answer.

    Message transports: a transport that moves whole messages (datagrams) rather than
    a byte stream sets :attr:`max_message_size`. Each ``send()`` is then one message of
    at most that many bytes, each read returns one whole message, and a message may be
    lost, duplicated or reordered: :class:`~eq1_network.NetworkHandler` puts only whole
    frames in each message and, in acknowledged mode, writes unacknowledged messages
    again after ``NetworkConfig.ack_timeout``.

    Attributes:
        timeout: Default deadline in seconds used when waiting for data; ``None``
            lets the caller decide.
        max_message_size: Largest number of bytes one ``send()`` carries as one
            message, for a message transport; ``None`` (the default) for a byte stream.
    """

    timeout: float | None = None
    max_message_size: int | None = None
    _pushback: bytes = b""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _reading.adopt_subclass(cls, ReqResProtocol)

    def send(self, data: bytes) -> int:
        """Send all of ``data``.

        Checks the argument and the connection, then calls :meth:`_send_raw`; an
        ``OSError`` from it becomes
        :class:`~eq1_network.common.exceptions.ProtocolConnectionError`.

        Args:
            data: The bytes to send (``bytes``, ``bytearray`` or ``memoryview``).

        Returns:
            The number of bytes sent, ``len(data)`` on success.

        Raises:
            ProtocolTypeError: If ``data`` is not bytes-like (encode text first).
            ProtocolNotConnectedError: If the protocol is not connected.
            ProtocolConnectionError: If the link broke.
            ProtocolTimeoutError: If the transport's write deadline passed.
        """
        if type(data) is not bytes:
            data = _reading.as_payload(data)
        if not self._link_ready():
            raise self._not_connected_error("send()")
        try:
            return self._send_raw(data)
        except ProtocolError:
            raise
        except OSError as exc:
            raise self._link_error("send()", exc) from exc

    def read(self) -> tuple[bool, bytes | None]:
        """Return the data waiting, without blocking.

        Bytes kept by a whole-answer read come first; otherwise :meth:`_read_raw` is
        called, and an ``OSError`` from it becomes
        :class:`~eq1_network.common.exceptions.ProtocolConnectionError`.

        Returns:
            ``(True, data)`` when bytes were waiting, ``(False, None)`` otherwise
            (also when not connected).

        Raises:
            ProtocolConnectionError: If the link broke and the transport reports it
                from ``read``.
        """
        if self._pushback:
            return True, _reading.take_pushback(self)
        try:
            data = self._read_raw()
        except ProtocolError:
            raise
        except OSError as exc:
            raise self._link_error("read()", exc) from exc
        return (True, data) if data else (False, None)

    @abc.abstractmethod
    def _send_raw(self, data: bytes) -> int:
        """Write all of ``data`` to the link: the transport's write hook.

        Called by :meth:`send` with ``bytes`` only, once :meth:`_link_ready` said the
        link is open. An ``OSError`` it raises is mapped by :meth:`_link_error`; the
        library's own exceptions pass through unchanged.

        Args:
            data: The bytes.

        Returns:
            ``len(data)``.
        """

    @abc.abstractmethod
    def _read_raw(self) -> bytes | None:
        """Return the bytes waiting on the link without blocking: the read hook.

        Returns:
            The bytes, or ``None`` (or ``b""``) when none are waiting or the link is
            not connected.
        """

    def _link_ready(self) -> bool:
        """Tell cheaply whether :meth:`send` may call :meth:`_send_raw`.

        The default asks :meth:`is_connected`; transports whose ``is_connected``
        does I/O override it with a plain state test.

        Returns:
            ``True`` if the link is open.
        """
        return self.is_connected()

    def _not_connected_error(self, operation: str) -> ProtocolError:
        """Build the error :meth:`send` raises when :meth:`_link_ready` is false.

        Transports that remember why a link was lost override it to say so (a
        :class:`~eq1_network.common.exceptions.ProtocolConnectionError` then).

        Args:
            operation: The call, e.g. ``"send()"``.

        Returns:
            The exception.
        """
        return ProtocolNotConnectedError(
            f"{operation} on {self!r}: not connected; call connect() first"
        )

    def _link_error(self, operation: str, exc: OSError) -> ProtocolError:
        """Map an ``OSError`` from a hook to the library's exception.

        Transports override it to record the loss (close the link, start a
        reconnection) before returning the error.

        Args:
            operation: The call, e.g. ``"send()"``.
            exc: The error; it becomes the new exception's cause.

        Returns:
            The exception :meth:`send` or :meth:`read` raises.
        """
        return ProtocolConnectionError(f"{operation} on {self!r}: the link broke: {exc}")

    def wait_readable(self, timeout: float | None) -> bool:
        """Wait until :meth:`read` may return data, or until ``timeout`` passes.

        Managers call this between :meth:`read` attempts. It returns at once when
        bytes are kept for the next read, and otherwise calls
        :meth:`_wait_readable_raw`.

        Args:
            timeout: Longest wait in seconds; ``None`` means a short default slice.

        Returns:
            ``True`` if data may be readable now, ``False`` if the wait timed out.
            A ``True`` result is a hint only; :meth:`read` may still return nothing.
        """
        if self._pushback:
            return True
        return self._wait_readable_raw(timeout)

    def _wait_readable_raw(self, timeout: float | None) -> bool:
        """Wait for the link to become readable: the readiness hook.

        The default sleeps for a short interval; transports override it with a real
        readiness wait (a selector, a condition variable) so that waiting costs no
        latency.

        Args:
            timeout: Longest wait in seconds; ``None`` means a short default slice.

        Returns:
            ``True`` if data may be readable now, ``False`` on timeout.
        """
        slice_ = 0.005 if timeout is None else min(0.005, max(timeout, 0.0))
        time.sleep(slice_)
        return True

    def read_within(self, timeout: float) -> bytes | None:
        """Wait up to ``timeout`` seconds for data and return it.

        What :meth:`ReqResManager.read <eq1_network.ReqResManager.read>` calls. Bytes
        kept by a whole-answer read come first; otherwise :meth:`_read_within_raw`
        waits and reads.

        Args:
            timeout: Longest wait in seconds (``0`` only looks).

        Returns:
            The bytes that were waiting (at least one byte), or ``None`` if nothing
            arrived in time. Unlike the whole-answer reads it does not raise on
            timeout.

        Raises:
            ProtocolConnectionError: If the link broke and the transport reports it
                from ``read``.
        """
        if self._pushback:
            return _reading.take_pushback(self)
        try:
            return self._read_within_raw(timeout)
        except ProtocolError:
            raise
        except OSError as exc:
            raise self._link_error("read_within()", exc) from exc

    def _read_within_raw(self, timeout: float) -> bytes | None:
        """Wait up to ``timeout`` seconds and read: the waiting-read hook.

        The default combines :meth:`wait_readable` and :meth:`read`: a protocol with a
        real readiness wait is waited on first, other protocols are read first.
        Transports override it with a single call that both waits and reads.

        Args:
            timeout: Longest wait in seconds (``0`` only looks).

        Returns:
            The bytes, or ``None`` if nothing arrived in time.
        """
        deadline = time.monotonic() + timeout
        if has_readiness_wait(self):
            self.wait_readable(timeout)
        while True:
            ok, data = self.read()
            if ok and data:
                return data
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self.wait_readable(remaining)

    def read_until(
        self,
        terminator: bytes = b"\n",
        *,
        max_bytes: int = _reading.DEFAULT_MAX_BYTES,
        timeout: float | None = None,
    ) -> bytes:
        """Read one answer: everything up to and including ``terminator``.

        Bytes that arrive after the terminator stay buffered for the next read, so two
        answers that arrive in one chunk are returned by two calls.

        Args:
            terminator: The bytes that end an answer, e.g. ``b"\\r\\n"``.
            max_bytes: Longest accepted answer, terminator included.
            timeout: Longest wait in seconds; ``None`` applies the timeout rule.

        Returns:
            The answer, terminator included.

        Raises:
            ProtocolTimeoutError: If the terminator did not arrive in time; the bytes
                received so far stay buffered for the next read.
            PacketSizeError: If ``max_bytes`` bytes arrived without a terminator; they
                stay buffered (take them with :meth:`read` to discard them).
            ProtocolTypeError: If ``terminator`` is not bytes.
            ProtocolValidationError: If ``terminator`` is empty, ``max_bytes`` is
                shorter than it or ``timeout`` is negative.
            ProtocolConnectionError: If the link broke.
        """
        return _reading.read_until(self, terminator, max_bytes, timeout)

    def read_exactly(self, n: int, *, timeout: float | None = None) -> bytes:
        """Read exactly ``n`` bytes; any surplus stays buffered for the next read.

        Args:
            n: How many bytes (``0`` returns ``b""``).
            timeout: Longest wait in seconds; ``None`` applies the timeout rule.

        Returns:
            The ``n`` bytes.

        Raises:
            ProtocolTimeoutError: If fewer than ``n`` bytes arrived in time; they stay
                buffered for the next read.
            ProtocolValidationError: If ``n`` or ``timeout`` is negative.
            ProtocolConnectionError: If the link broke.
        """
        return _reading.read_exactly(self, n, timeout)

    def query(
        self,
        data: bytes,
        *,
        until: bytes | None = None,
        size: int | None = None,
        max_bytes: int = _reading.DEFAULT_MAX_BYTES,
        timeout: float | None = None,
    ) -> bytes:
        """Send a request and read its answer.

        The answer ends with ``until`` (default ``b"\\n"``), or is ``size`` bytes long.
        Bytes left over from an earlier answer are read first, as by any read.

        Args:
            data: The request.
            until: Terminator of the answer; ``None`` means ``b"\\n"`` unless ``size``
                is given.
            size: Exact length of the answer, instead of a terminator.
            max_bytes: Longest accepted answer when reading up to a terminator.
            timeout: Longest wait for the answer in seconds; ``None`` applies the
                timeout rule. Sending has the transport's own write timeout.

        Returns:
            The answer (terminator included).

        Raises:
            ProtocolTimeoutError: If the answer did not arrive in time (the bytes
                received so far stay buffered).
            PacketSizeError: If the answer exceeds ``max_bytes``.
            ProtocolValidationError: If both ``until`` and ``size`` are given, or an
                argument is out of range; nothing is sent then.
            ProtocolConnectionError: If the link broke.
        """
        return _reading.query(self, data, until, size, max_bytes, timeout)


def has_readiness_wait(protocol: ReqResProtocol) -> bool:
    """Tell whether a protocol overrides :meth:`ReqResProtocol.wait_readable` with a real wait.

    Readers use it to wait before reading: a real readiness wait returns at once when
    data is waiting, so waiting first saves a read attempt that would find nothing.
    The interface's default only sleeps, so for such protocols readers read first.
    A protocol has one when its class overrides ``_wait_readable_raw`` (or, the
    deprecated way, ``wait_readable``).

    Args:
        protocol: A request/response protocol.

    Returns:
        ``True`` if its class overrides ``wait_readable``.
    """
    cls = type(protocol)
    return (
        cls._wait_readable_raw is not ReqResProtocol._wait_readable_raw
        or cls.wait_readable is not ReqResProtocol.wait_readable
    )


@runtime_checkable
class MultiPeerProtocol(Protocol):
    """Optional capability of a request/response protocol that serves many peers at once.

    A server transport (``tcp-server``, for example) implements these methods besides
    :class:`ReqResProtocol`'s; :class:`~eq1_network.NetworkHandler` then keeps one
    byte stream per peer, replies to the peer that asked, and drops a misbehaving peer
    alone. A peer is any hashable object whose ``str()`` names it; the same peer is
    the same object (or an equal one) for as long as it is connected. ``send(data)``
    writes to the peer whose data :meth:`receive` returned last.
    """

    def peers(self) -> list[Any]:
        """List the connected peers.

        Returns:
            The peers.
        """
        ...

    def receive(self, timeout: float | None = 0.0) -> Any:
        """Return the next chunk of bytes with the peer that sent it, or ``None``.

        Args:
            timeout: Seconds to wait; ``0`` does not wait.

        Returns:
            An object with ``peer`` and ``data`` attributes, or ``None`` if nothing
            arrived in time.
        """
        ...

    def send_to(self, peer: Any, data: bytes) -> int:
        """Send all of ``data`` to one peer.

        Args:
            peer: The peer.
            data: The bytes.

        Returns:
            ``len(data)``.

        Raises:
            ProtocolConnectionError: If that peer is not connected.
            ProtocolTimeoutError: If the peer accepted no data in time.
        """
        ...

    def disconnect_peer(self, peer: Any) -> bool:
        """Close the connection of one peer.

        Args:
            peer: The peer.

        Returns:
            ``True`` if the peer was connected.
        """
        ...


def serves_many_peers(protocol: object) -> bool:
    """Tell whether a protocol implements :class:`MultiPeerProtocol`.

    Args:
        protocol: Any protocol.

    Returns:
        ``True`` if it has the per-peer methods.
    """
    return isinstance(protocol, MultiPeerProtocol)


@runtime_checkable
class PublishHandle(Protocol):
    """What :meth:`PubSubProtocol.publish` returns: a way to learn the real outcome."""

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the delivery outcome.

        Args:
            timeout: Longest wait in seconds; ``None`` waits without a limit.

        Returns:
            ``True`` once the message was delivered as its QoS level promises,
            ``False`` if the timeout passed first.
        """
        ...

    def is_published(self) -> bool:
        """Tell whether delivery has completed, without waiting.

        Returns:
            ``True`` if complete.
        """
        ...


class CompletedPublish:
    """A :class:`PublishHandle` for a publish that completed synchronously."""

    __slots__ = ()

    def wait(self, timeout: float | None = None) -> bool:
        """Return at once: the publish is complete.

        Args:
            timeout: Ignored.

        Returns:
            Always ``True``.
        """
        return True

    def is_published(self) -> bool:
        """Tell that the publish is complete.

        Returns:
            Always ``True``.
        """
        return True


class PubSubProtocol(BaseProtocol):
    """Publish/subscribe transport.

    The public methods check their arguments here, once, for every transport: topic
    names and filters (MQTT rules, :mod:`eq1_network.common.topics`), QoS 0-2, the
    payload type (``str`` is encoded as UTF-8, bytes-like becomes ``bytes``) and that a
    callback is callable. A transport implements the hooks :meth:`_publish`,
    :meth:`_subscribe` and :meth:`_unsubscribe`, which receive checked arguments and do
    not check them again. A transport with extra options (MQTT's ``message_expiry``,
    say) may override :meth:`publish` with a wider signature that calls
    :func:`~eq1_network.interfaces._pubsub.check_publish_args` and its hook.

    Overriding ``publish``/``subscribe``/``unsubscribe`` without implementing the
    hooks is deprecated: such a class still works, but defining it emits a
    :class:`DeprecationWarning`.

    ``connect()`` reports failure by raising
    :class:`~eq1_network.common.exceptions.ProtocolConnectionError` (or a subclass);
    it returns ``True`` otherwise.

    Callbacks have the signature ``callback(topic: str, payload: bytes)``.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _pubsub.adapt_overrides(cls, PubSubProtocol)

    def publish(
        self, topic: str, message: str | bytes, qos: int = 0, retain: bool = False
    ) -> PublishHandle:
        """Publish a message.

        Args:
            topic: Topic name (no wildcards).
            message: Payload; ``str`` is encoded as UTF-8.
            qos: Quality of service, 0, 1 or 2.
            retain: Ask the broker to keep the message for future subscribers.

        Returns:
            A handle whose ``wait(timeout)`` reports the delivery outcome.

        Raises:
            ProtocolValidationError: If the topic or QoS is invalid.
            ProtocolTypeError: If ``message`` is neither ``str`` nor bytes-like, or
                ``retain`` is not a bool.
            ProtocolNotConnectedError: If the protocol is not connected (checked after
                the arguments).
        """
        payload = _pubsub.check_publish_args(topic, message, qos, retain)
        if not self.is_connected():
            raise _pubsub.not_connected(self, topic)
        return self._publish(topic, payload, qos, retain)

    def subscribe(self, topic: str, callback: MessageCallback, *, qos: int | None = None) -> None:
        """Subscribe a callback to a topic filter.

        Subscribing while not connected is allowed; whether the subscription is kept
        for the next connection is the transport's rule.

        Args:
            topic: Topic filter; ``+``, ``#`` and ``$share/<group>/<filter>`` are allowed.
            callback: Called as ``callback(topic, payload)`` for each matching message.
            qos: Maximum QoS asked for; ``None`` means the transport's default.

        Raises:
            ProtocolValidationError: If the filter or QoS is invalid.
            ProtocolTypeError: If ``callback`` is not callable.
        """
        _pubsub.check_subscribe_args(topic, callback, qos)
        self._subscribe(topic, callback, qos)

    def unsubscribe(self, topic: str, callback: MessageCallback) -> None:
        """Remove a callback from a topic filter.

        A pair that is not subscribed (an invalid filter included) is ignored.

        Args:
            topic: The filter it was subscribed with.
            callback: The callback to remove.
        """
        self._unsubscribe(topic, callback)

    @abc.abstractmethod
    def _publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> PublishHandle:
        """Send a checked message (hook of :meth:`publish`).

        Args:
            topic: A valid topic name.
            payload: The payload as bytes.
            qos: 0, 1 or 2.
            retain: A bool.

        Returns:
            The delivery handle.
        """

    @abc.abstractmethod
    def _subscribe(self, topic: str, callback: MessageCallback, qos: int | None) -> None:
        """Register a checked subscription (hook of :meth:`subscribe`).

        Args:
            topic: A valid topic filter.
            callback: A callable.
            qos: 0, 1, 2, or ``None`` for the transport's default.
        """

    @abc.abstractmethod
    def _unsubscribe(self, topic: str, callback: MessageCallback) -> None:
        """Remove a subscription (hook of :meth:`unsubscribe`); ignore unknown pairs.

        Args:
            topic: The filter as given by the caller.
            callback: The callback.
        """

"""The tap: sees every send, read, publish and delivered message of one protocol.

A :class:`Tap` is installed on a protocol *instance*: it replaces the instance's
transport hooks (``_send_raw``, ``_read_raw``, ``_read_within_raw``, the per-peer
``receive``/``send_to`` of a server, ``_publish``/``_subscribe``/``_unsubscribe`` of
a publish/subscribe client, ``connect``/``disconnect``) with wrappers that report a
:class:`TapEvent` to each listener. A request/response transport with its own
``exchange()`` (which may skip the hooks) gets the interface's ``exchange()``, which
runs through them, while tapped. The classes are never changed, so a protocol
without a tap runs exactly the code it ran before, and every caller of the instance
(an application, :class:`~eq1_network.NetworkHandler`, a manager) is observed alike.
"""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Callable
from types import MethodType
from typing import Any, NamedTuple

from eq1_network.common.exceptions import ProtocolError, ProtocolTimeoutError, ProtocolUsageError
from eq1_network.common.logging import get_logger
from eq1_network.interfaces.protocol import (
    BaseProtocol,
    PubSubProtocol,
    ReqResProtocol,
    serves_many_peers,
)

__all__ = ["Listener", "Tap", "TapEvent", "endpoint_of"]

logger = get_logger(__name__)

_monotonic = time.monotonic
_time = time.time

SEND = "send"
READ = "read"
PUBLISH = "publish"
MESSAGE = "message"
CONNECT = "connect"
DISCONNECT = "disconnect"
ERROR = "error"
TIMEOUT = "timeout"


class TapEvent(NamedTuple):
    """One thing a tapped protocol did (an immutable tuple with named fields).

    Attributes:
        kind: ``"send"``, ``"read"``, ``"publish"``, ``"message"`` (delivered to a
            subscription), ``"connect"``, ``"disconnect"``, ``"error"`` or ``"timeout"``.
        direction: ``"out"`` (sent, published), ``"in"`` (read, delivered) or ``""``.
        data: The bytes (empty for events that carry none).
        endpoint: The endpoint's URL with its password hidden, or the protocol's repr.
        monotonic: ``time.monotonic()`` when the event happened.
        wall: ``time.time()`` when the event happened.
        topic: The topic of a publish or a delivered message.
        qos: The QoS of a publish.
        retain: The retain flag of a publish.
        peer: The peer of a server transport's per-peer call, as text.
        error: The error's text for ``"error"`` and ``"timeout"`` events.
    """

    kind: str
    direction: str
    data: bytes
    endpoint: str
    monotonic: float
    wall: float
    topic: str | None = None
    qos: int | None = None
    retain: bool | None = None
    peer: str | None = None
    error: str | None = None


_new_event = tuple.__new__
"""Builds a :class:`TapEvent` from all its fields without the named tuple's keyword parsing."""

Listener = Callable[[TapEvent], None]
"""What a tap calls for each event; it runs on the thread that did the I/O."""

_REQRES_HOOKS = ("_send_raw", "_read_raw", "_read_within_raw", "receive", "send_to")
_PUBSUB_HOOKS = ("_publish", "_subscribe", "_unsubscribe")
_COMMON_HOOKS = ("connect", "disconnect")


def endpoint_of(protocol: object) -> str:
    """Name a protocol for events: its URL with the password hidden, or its repr.

    Args:
        protocol: Any protocol.

    Returns:
        The name.
    """
    url = getattr(protocol, "url", None)
    if isinstance(url, str) and "://" in url:
        from eq1_network.urls import mask_url

        return mask_url(url)
    return repr(protocol)


class Tap:
    """Reports what one protocol instance does to listeners.

    A listener that only counts may also have a method ``tap_count(kind, size,
    monotonic, endpoint, error=None)`` (as :class:`~eq1_network.observe.Stats` has):
    while every listener has one, an event without an error is reported through it,
    with the event's kind, the number of its bytes, its time and endpoint, instead of
    as a :class:`TapEvent`.

    Args:
        *listeners: Called with each :class:`TapEvent`; an exception in a listener is
            logged and does not reach the protocol's caller.
        endpoint: The name events carry; by default the URL given to
            :meth:`install`, or :func:`endpoint_of` the protocol.

    Example:
        >>> from eq1_network.observe import Tap
        >>> events = []
        >>> proto = Tap(events.append).install(LoopbackProtocol())  # doctest: +SKIP
    """

    def __init__(self, *listeners: Listener, endpoint: str | None = None) -> None:
        self._listeners: tuple[Listener, ...] = ()
        self._counters: tuple[Callable[..., None], ...] | None = None
        self._set_listeners(tuple(listeners))
        self._endpoint = endpoint
        self._protocol: BaseProtocol | None = None
        self._installed: list[str] = []
        self._wrapped: dict[tuple[str, Any], Any] = {}
        self._local = threading.local()
        self._lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        """The endpoint name the events carry."""
        return self._endpoint or ""

    @property
    def protocol(self) -> BaseProtocol | None:
        """The protocol the tap is installed on, or ``None``."""
        return self._protocol

    def add_listener(self, listener: Listener) -> None:
        """Add a listener; it sees the events from now on.

        Args:
            listener: The callable.
        """
        with self._lock:
            self._set_listeners((*self._listeners, listener))

    def remove_listener(self, listener: Listener) -> None:
        """Remove a listener; an unknown one is ignored.

        Args:
            listener: The callable given to :meth:`add_listener`.
        """
        with self._lock:
            self._set_listeners(tuple(x for x in self._listeners if x is not listener))

    def _set_listeners(self, listeners: tuple[Listener, ...]) -> None:
        counters = [getattr(listener, "tap_count", None) for listener in listeners]
        self._counters = tuple(c for c in counters if callable(c))
        if len(self._counters) != len(listeners):
            self._counters = None  # a listener needs whole events
        self._listeners = listeners

    def install(self, protocol: BaseProtocol, *, url: str | None = None) -> Any:
        """Start observing ``protocol`` and return it.

        Subscriptions made before the call are not observed; make them after it.

        Args:
            protocol: A request/response or publish/subscribe protocol instance.
            url: Its endpoint URL, used (masked) as the events' endpoint.

        Returns:
            ``protocol`` itself, so that ``proto = Tap(...).install(from_url(u))`` reads well.

        Raises:
            ProtocolUsageError: If this tap is already installed, or ``protocol`` is
                neither a :class:`ReqResProtocol` nor a :class:`PubSubProtocol`.
        """
        if self._protocol is not None:
            raise ProtocolUsageError(
                f"this tap is already installed on {self._protocol!r}; call uninstall() first "
                "or make another Tap"
            )
        if not isinstance(protocol, (ReqResProtocol, PubSubProtocol)):
            raise ProtocolUsageError(
                f"protocol must be a ReqResProtocol or PubSubProtocol instance, got {protocol!r}"
            )
        if self._endpoint is None:
            from eq1_network.urls import mask_url

            self._endpoint = mask_url(url) if url else endpoint_of(protocol)
        self._protocol = protocol
        hooks = _REQRES_HOOKS if isinstance(protocol, ReqResProtocol) else _PUBSUB_HOOKS
        for name in (*hooks, *_COMMON_HOOKS):
            original = getattr(protocol, name, None)
            if original is None or name in vars(protocol):
                continue
            if name == "_read_within_raw" and _default_read_within(protocol):
                continue
            if name in ("receive", "send_to") and not serves_many_peers(protocol):
                continue
            setattr(protocol, name, getattr(self, f"_wrap_{name.lstrip('_')}")(original))
            self._installed.append(name)
        if (
            isinstance(protocol, ReqResProtocol)
            and type(protocol).exchange is not ReqResProtocol.exchange
            and "exchange" not in vars(protocol)
        ):
            # A transport's own exchange() may skip the hooks: while tapped, the
            # interface's exchange() (send, then read_within) runs through them.
            protocol.exchange = MethodType(ReqResProtocol.exchange, protocol)  # type: ignore[method-assign]
            self._installed.append("exchange")
        return protocol

    def uninstall(self) -> None:
        """Stop observing; the protocol runs its own methods again."""
        protocol, self._protocol = self._protocol, None
        if protocol is None:
            return
        for name in self._installed:
            vars(protocol).pop(name, None)
        self._installed.clear()

    def emit(
        self,
        kind: str,
        direction: str,
        data: bytes = b"",
        topic: str | None = None,
        qos: int | None = None,
        retain: bool | None = None,
        peer: str | None = None,
        error: str | None = None,
    ) -> None:
        """Build a :class:`TapEvent` and give it to every listener.

        Args:
            kind: The event's kind.
            direction: ``"in"``, ``"out"`` or ``""``.
            data: The bytes.
            topic: The topic, for publish/subscribe events.
            qos: The QoS of a publish.
            retain: The retain flag of a publish.
            peer: The peer of a server's per-peer call.
            error: The error's text.
        """
        listeners = self._listeners
        if not listeners:
            return
        counters = self._counters
        if counters is not None and error is None:
            now, endpoint, size = _monotonic(), self._endpoint or "", len(data)
            for count in counters:
                try:
                    count(kind, size, now, endpoint)
                except Exception:
                    logger.exception("tap listener %r failed on a %s event", count, kind)
            return
        event = _new_event(
            TapEvent,
            (
                kind,
                direction,
                data,
                self._endpoint or "",
                _monotonic(),
                _time(),
                topic,
                qos,
                retain,
                peer,
                error,
            ),
        )
        for listener in listeners:
            try:
                listener(event)
            except Exception:
                logger.exception("tap listener %r failed on a %s event", listener, kind)

    def _failed(self, exc: BaseException) -> None:
        kind = TIMEOUT if isinstance(exc, (ProtocolTimeoutError, TimeoutError)) else ERROR
        self.emit(kind, "", error=f"{type(exc).__name__}: {exc}")

    # -- wrappers ----------------------------------------------------------------

    def _wrap_send_raw(self, fn: Callable[[bytes], int]) -> Callable[[bytes], int]:
        def _send_raw(data: bytes) -> int:
            try:
                sent = fn(data)
            except (ProtocolError, OSError) as exc:
                self._failed(exc)
                raise
            self.emit(SEND, "out", data if type(data) is bytes else bytes(data))
            return sent

        return _send_raw

    def _wrap_read_raw(self, fn: Callable[[], bytes | None]) -> Callable[[], bytes | None]:
        local = self._local

        def _read_raw() -> bytes | None:
            try:
                data = fn()
            except (ProtocolError, OSError) as exc:
                self._failed(exc)
                raise
            if data and not getattr(local, "inside", False):
                self.emit(READ, "in", data if type(data) is bytes else bytes(data))
            return data

        return _read_raw

    def _wrap_read_within_raw(
        self, fn: Callable[[float], bytes | None]
    ) -> Callable[[float], bytes | None]:
        local = self._local

        def _read_within_raw(timeout: float) -> bytes | None:
            local.inside = True
            try:
                data = fn(timeout)
            except (ProtocolError, OSError) as exc:
                self._failed(exc)
                raise
            finally:
                local.inside = False
            if data:
                self.emit(READ, "in", data if type(data) is bytes else bytes(data))
            return data

        return _read_within_raw

    def _wrap_receive(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def receive(*args: Any, **kwargs: Any) -> Any:
            item = fn(*args, **kwargs)
            data = getattr(item, "data", None)
            if data:
                self.emit(READ, "in", bytes(data), peer=str(getattr(item, "peer", "")))
            return item

        return receive

    def _wrap_send_to(self, fn: Callable[[Any, bytes], int]) -> Callable[[Any, bytes], int]:
        def send_to(peer: Any, data: bytes) -> int:
            try:
                sent = fn(peer, data)
            except (ProtocolError, OSError) as exc:
                self._failed(exc)
                raise
            self.emit(SEND, "out", bytes(data), peer=str(peer))
            return sent

        return send_to

    def _wrap_publish(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def _publish(topic: str, payload: bytes, qos: int, retain: bool, *rest: Any) -> Any:
            try:
                handle = fn(topic, payload, qos, retain, *rest)
            except (ProtocolError, OSError) as exc:
                self._failed(exc)
                raise
            self.emit(PUBLISH, "out", payload, topic=topic, qos=qos, retain=retain)
            return handle

        return _publish

    def _wrap_subscribe(self, fn: Callable[..., None]) -> Callable[..., None]:
        def _subscribe(topic: str, callback: Callable[[str, bytes], None], *rest: Any) -> None:
            key = (topic, callback)
            wrapper = self._wrapped.get(key)
            if wrapper is None:
                wrapper = self._message_wrapper(callback)
                self._wrapped[key] = wrapper
            fn(topic, wrapper, *rest)

        return _subscribe

    def _message_wrapper(self, callback: Callable[..., None]) -> Callable[..., None]:
        """Wrap a subscription callback, keeping its calling convention."""
        if takes_one_argument(callback):

            def on_message(message: Any) -> None:
                self.emit(
                    MESSAGE,
                    "in",
                    bytes(message.payload),
                    topic=message.topic,
                    qos=getattr(message, "qos", None),
                    retain=getattr(message, "retain", None),
                )
                callback(message)

            return on_message

        def wrapper(name: str, payload: bytes) -> None:
            self.emit(MESSAGE, "in", bytes(payload), topic=name)
            callback(name, payload)

        return wrapper

    def _wrap_unsubscribe(self, fn: Callable[[str, Any], None]) -> Callable[[str, Any], None]:
        def _unsubscribe(topic: str, callback: Callable[[str, bytes], None]) -> None:
            fn(topic, self._wrapped.pop((topic, callback), callback))

        return _unsubscribe

    def _wrap_connect(self, fn: Callable[[], bool]) -> Callable[[], bool]:
        def connect() -> bool:
            try:
                result = fn()
            except (ProtocolError, OSError) as exc:
                self._failed(exc)
                raise
            self.emit(CONNECT, "")
            return result

        return connect

    def _wrap_disconnect(self, fn: Callable[[], None]) -> Callable[[], None]:
        def disconnect() -> None:
            fn()
            self.emit(DISCONNECT, "")

        return disconnect


def _default_read_within(protocol: BaseProtocol) -> bool:
    """Tell whether the protocol's ``_read_within_raw`` is the interface's default."""
    return type(protocol)._read_within_raw is ReqResProtocol._read_within_raw  # type: ignore[attr-defined]  # noqa: SLF001 - compares the hook with the interface's default


def takes_one_argument(callback: Callable[..., Any]) -> bool:
    """Tell whether a callback takes exactly one required positional parameter.

    Such subscription callbacks receive a message object (MQTT's ``MQTTMessage``)
    rather than ``(topic, payload)``.

    Args:
        callback: The callable.

    Returns:
        ``True`` for one required positional parameter and no ``*args``.
    """
    try:
        parameters = inspect.signature(callback).parameters.values()
    except (TypeError, ValueError):
        return False
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters):
        return False
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return len([p for p in parameters if p.kind in positional and p.default is p.empty]) == 1

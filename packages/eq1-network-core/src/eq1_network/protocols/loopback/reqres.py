"""``loopback``: an in-process request/response byte stream.

Two modes:

* **echo** (``LoopbackProtocol()``): what is sent is read back, like pyserial's
  ``loop://``. Pending data is discarded on disconnect.
* **channel** (``LoopbackProtocol(channel="line1", side="a")`` and ``side="b"``, or
  :meth:`LoopbackProtocol.pair`): two ends of a process-wide named channel, like a
  null-modem cable. Bytes one end sends are read by the other; they wait in the
  channel while the other end is not connected.

Each direction is bounded (``max_buffer``); ``send`` waits up to ``timeout`` seconds
for room and then raises :class:`~eq1_network.common.exceptions.ProtocolTimeoutError`.
"""

from __future__ import annotations

import itertools
import threading
from typing import TYPE_CHECKING, Any

from eq1_network.common.exceptions import (
    ProtocolConfigurationError,
    ProtocolConnectionError,
)
from eq1_network.common.logging import LazyLogger
from eq1_network.interfaces.protocol import ReqResProtocol
from eq1_network.protocols.loopback._pipe import BytePipe

if TYPE_CHECKING:
    from eq1_network.urls import ParsedURL

__all__ = ["DEFAULT_MAX_BUFFER", "LoopbackProtocol"]

logger = LazyLogger(__name__)

DEFAULT_MAX_BUFFER = 64 * 1024 * 1024
_SIDES = ("a", "b")
_anonymous = itertools.count(1)


class _Channel:
    def __init__(self, max_buffer: int) -> None:
        self.pipes = {"a": BytePipe(max_buffer), "b": BytePipe(max_buffer)}  # keyed by reader
        self.owners: dict[str, LoopbackProtocol] = {}


_channels: dict[str, _Channel] = {}
_channels_lock = threading.Lock()


class LoopbackProtocol(ReqResProtocol):
    """In-process byte stream: an echo, or one end of a named two-ended channel.

    Args:
        timeout: Seconds ``send`` waits for buffer room and the default wait of
            ``ReqResManager.read``; ``None`` waits without limit.
        channel: Name of a process-wide channel to attach to; ``None`` for echo mode.
        side: ``"a"`` or ``"b"``: which end of the channel this is.
        max_buffer: Most bytes buffered per direction.

    Raises:
        ProtocolConfigurationError: If ``side``, ``timeout`` or ``max_buffer`` is invalid.
    """

    protocol_name = "loopback"

    def __init__(
        self,
        timeout: float | None = 1.0,
        *,
        channel: str | None = None,
        side: str = "a",
        max_buffer: int = DEFAULT_MAX_BUFFER,
    ) -> None:
        if side not in _SIDES:
            raise ProtocolConfigurationError(f"side must be 'a' or 'b', got {side!r}")
        if timeout is not None and timeout < 0:
            raise ProtocolConfigurationError(f"timeout must be non-negative, got {timeout}")
        if max_buffer <= 0:
            raise ProtocolConfigurationError(f"max_buffer must be positive, got {max_buffer}")
        self.timeout = timeout
        self.channel = channel
        self.side = side
        self.max_buffer = max_buffer
        self._lock = threading.Lock()
        self._connected = False
        self._inbound: BytePipe | None = None
        self._outbound: BytePipe | None = None

    @classmethod
    def url_kwargs(cls, url: ParsedURL) -> dict[str, Any]:
        """Map ``loop://`` (echo) or ``loop://NAME?side=b`` (a named channel's end).

        Args:
            url: The parsed URL; its host is the channel name.

        Returns:
            The keyword arguments.

        Raises:
            ProtocolConfigurationError: If the URL has a port, path, credentials or an
                unknown or ill-typed parameter.
        """
        from dataclasses import replace

        from eq1_network.urls import default_url_kwargs

        kwargs = default_url_kwargs(cls, replace(url, host=None))
        if url.host is not None:
            kwargs["channel"] = url.host
        return kwargs

    @classmethod
    def pair(cls, timeout: float | None = 1.0) -> tuple[LoopbackProtocol, LoopbackProtocol]:
        """Create the two ends of a fresh private channel.

        Args:
            timeout: As for the constructor.

        Returns:
            ``(end_a, end_b)``, both unconnected.
        """
        name = f"_pair-{next(_anonymous)}"
        return cls(timeout, channel=name, side="a"), cls(timeout, channel=name, side="b")

    def __repr__(self) -> str:
        where = "echo" if self.channel is None else f"channel={self.channel!r}, side={self.side!r}"
        return f"LoopbackProtocol({where}, connected={self._connected})"

    def connect(self) -> bool:
        """Attach to the echo buffer or to the channel's side.

        Returns:
            ``True``.

        Raises:
            ProtocolConnectionError: If another instance already holds this side of the channel.
        """
        with self._lock:
            if self._connected:
                return True
            if self.channel is None:
                pipe = BytePipe(self.max_buffer)
                self._inbound = self._outbound = pipe
            else:
                with _channels_lock:
                    chan = _channels.setdefault(self.channel, _Channel(self.max_buffer))
                    holder = chan.owners.get(self.side)
                    if holder is not None and holder is not self:
                        raise ProtocolConnectionError(
                            f"side {self.side!r} of loopback channel {self.channel!r} is "
                            "already connected by another instance"
                        )
                    chan.owners[self.side] = self
                    other = "b" if self.side == "a" else "a"
                    self._inbound = chan.pipes[self.side]
                    self._outbound = chan.pipes[other]
            self._connected = True
            logger.debug("%r connected", self)
            return True

    def disconnect(self) -> None:
        """Detach; in echo mode pending data is discarded. Does nothing if not connected."""
        with self._lock:
            if not self._connected:
                return
            self._connected = False
            if self.channel is None and self._inbound is not None:
                self._inbound.clear()
            else:
                with _channels_lock:
                    chan = _channels.get(self.channel or "")
                    if chan is not None and chan.owners.get(self.side) is self:
                        del chan.owners[self.side]
            self._inbound = self._outbound = None
            logger.debug("%r disconnected", self)

    def is_connected(self) -> bool:
        """Tell whether this end is attached.

        Returns:
            ``True`` if connected.
        """
        return self._connected

    def _link_ready(self) -> bool:
        return self._connected

    def _send_raw(self, data: bytes) -> int:
        """Write all of ``data`` to the other end (or to itself in echo mode).

        ``send`` waits up to ``timeout`` seconds for buffer room and then raises
        :class:`~eq1_network.common.exceptions.ProtocolTimeoutError`.
        """
        outbound = self._outbound
        if outbound is None:  # disconnect() ran since send() looked
            raise self._not_connected_error("send()")
        outbound.write(data, self.timeout)
        return len(data)

    def _read_raw(self) -> bytes | None:
        inbound = self._inbound
        return None if inbound is None else inbound.read_all()

    def _wait_readable_raw(self, timeout: float | None) -> bool:
        inbound = self._inbound
        if inbound is None:
            return super()._wait_readable_raw(timeout)
        return inbound.wait_data(timeout)

"""The bounded queue of datagrams a :class:`~.udp_server.UDPServer` received, and its peers."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from eq1_network.common.exceptions import ProtocolTypeError
from eq1_network.common.policies import OverflowPolicy
from eq1_network.protocols.udp._options import check_address

__all__ = ["Datagram", "Inbox", "Peer", "as_peer"]

_IDLE_WAIT = 0.1
"""Longest single wait of :meth:`Inbox.take` without a deadline, to notice a close."""


@dataclass(frozen=True, slots=True)
class Peer:
    """The address a datagram came from, or goes to.

    Two ``Peer`` objects with the same address are equal, so a peer kept from an
    earlier datagram names the same sender as long as it keeps its address.

    Attributes:
        host: IP address.
        port: UDP port.
    """

    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def as_peer(peer: object) -> Peer:
    """Return ``peer`` as a :class:`Peer`, checking a ``(host, port)`` tuple.

    Raises:
        ProtocolTypeError: If ``peer`` is neither a ``Peer`` nor a two-item tuple.
        ProtocolConfigurationError: If the host or port is invalid.
    """
    if isinstance(peer, Peer):
        return peer
    if not (isinstance(peer, tuple) and len(peer) == 2):
        raise ProtocolTypeError(
            f"peer must be a Peer or a (host, port) tuple, got {type(peer).__name__}"
        )
    host, port = check_address(peer[0], peer[1], allow_zero_port=False)
    return Peer(host, port)


class Datagram(NamedTuple):
    """One datagram received by a :class:`~.udp_server.UDPServer`, with its sender.

    Attributes:
        peer: The sender.
        data: The whole datagram (``b""`` for an empty one).
    """

    peer: Peer
    data: bytes


class Inbox:
    """Datagrams waiting to be read, oldest first, with a bound and a drop counter.

    Filled by the server's receive thread, emptied by readers. When it is full, the
    overflow policy picks the victim: ``REJECT`` drops the arriving datagram,
    ``DROP_OLDEST`` the oldest waiting one; either way :attr:`dropped` counts it.

    It also remembers the most recent senders (at most ``max_peers``, least recently
    heard forgotten first).
    """

    def __init__(self, size: int, policy: OverflowPolicy, max_peers: int) -> None:
        self._size = size
        self._drop_oldest = policy is OverflowPolicy.DROP_OLDEST
        self._items: deque[Datagram] = deque()
        self._cond = threading.Condition(threading.Lock())
        self._peers: OrderedDict[Peer, float] = OrderedDict()
        self._max_peers = max_peers
        self.dropped = 0
        self.received = 0

    def put_many(self, datagrams: list[Datagram]) -> None:
        """Queue datagrams from the receive thread and wake the readers."""
        now = time.monotonic()
        with self._cond:
            items, peers = self._items, self._peers
            for datagram in datagrams:
                self.received += 1
                peer = datagram.peer
                if peer in peers:
                    peers.move_to_end(peer)
                peers[peer] = now
                if len(items) >= self._size:
                    self.dropped += 1
                    if not self._drop_oldest:
                        continue
                    items.popleft()
                items.append(datagram)
            while len(peers) > self._max_peers:
                peers.popitem(last=False)
            self._cond.notify_all()

    def pop(self) -> Datagram | None:
        """Take the oldest datagram, or ``None``."""
        try:
            return self._items.popleft()
        except IndexError:
            return None

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a datagram; ``True`` if one is waiting."""
        if self._items:
            return True
        with self._cond:
            return self._cond.wait_for(lambda: bool(self._items), timeout)

    def take(self, timeout: float | None, is_open: Callable[[], bool]) -> Datagram | None:
        """Take the oldest datagram, waiting up to ``timeout`` seconds for one.

        Args:
            timeout: Seconds to wait; ``None`` waits until one arrives or ``is_open()``
                turns false (looked at every 0.1 s).
            is_open: Whether the server still receives; a closed server returns ``None``.

        Returns:
            The datagram, or ``None``.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            item = self.pop()
            if item is not None:
                return item
            remaining = _IDLE_WAIT if deadline is None else deadline - time.monotonic()
            if remaining <= 0 or not is_open():
                return None
            self.wait(min(remaining, _IDLE_WAIT) if deadline is None else remaining)

    def wake(self) -> None:
        """Wake every waiting reader (on close)."""
        with self._cond:
            self._cond.notify_all()

    def __len__(self) -> int:
        return len(self._items)

    def peers(self) -> list[Peer]:
        """The senders remembered, least recently heard first."""
        with self._cond:
            return list(self._peers)

    def forget(self, peer: Peer) -> bool:
        """Forget a sender; ``True`` if it was remembered."""
        with self._cond:
            return self._peers.pop(peer, None) is not None

    def clear(self) -> None:
        """Drop every waiting datagram and remembered sender."""
        with self._cond:
            self._items.clear()
            self._peers.clear()

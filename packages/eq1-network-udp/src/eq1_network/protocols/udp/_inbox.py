"""The bounded queue of datagrams a :class:`~.udp_server.UDPServer` received, and its peers."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import NamedTuple

from eq1_network.common.policies import OverflowPolicy

__all__ = ["Datagram", "Inbox", "Peer"]


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

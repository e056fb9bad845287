"""The receive thread of a :class:`~.udp_server.UDPServer`: socket to inbox, in batches."""

from __future__ import annotations

import select
import socket
import threading

from eq1_network.common.logging import get_logger
from eq1_network.protocols.udp._inbox import Datagram, Inbox, Peer
from eq1_network.protocols.udp._options import RECV_SIZE

__all__ = ["POLL_MS", "start_receiver"]

logger = get_logger(__name__)

POLL_MS = 200
"""How often (ms) the receive thread looks whether the server was closed."""
_DRAIN = 256
"""Most datagrams the receive thread takes per wake-up before it hands them over."""
_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)


def start_receiver(
    sock: socket.socket, inbox: Inbox, closing: threading.Event, where: str, name: str
) -> threading.Thread:
    """Start the daemon thread that moves datagrams from ``sock`` to ``inbox``.

    The thread takes up to 256 datagrams per wake-up without blocking and hands them
    over in one batch; it ends when ``closing`` is set (looking every 200 ms) or the
    socket fails, which it logs unless the server is closing.

    Args:
        sock: The bound datagram socket.
        inbox: Where datagrams go.
        closing: Set by the server when it closes.
        where: The server's endpoint, for log messages.
        name: The thread's name.

    Returns:
        The started thread.
    """
    thread = threading.Thread(
        target=_receive, args=(sock, inbox, closing, where), name=name, daemon=True
    )
    thread.start()
    return thread


def _receive(sock: socket.socket, inbox: Inbox, closing: threading.Event, where: str) -> None:
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    while not closing.is_set():
        try:
            if not poller.poll(POLL_MS):
                continue
            batch: list[Datagram] = []
            while len(batch) < _DRAIN:
                try:
                    data, sender = sock.recvfrom(RECV_SIZE, _DONTWAIT)
                except (BlockingIOError, ConnectionRefusedError):
                    break  # drained (an ICMP error from an earlier send_to is no datagram)
                batch.append(Datagram(Peer(str(sender[0]), int(sender[1])), data))
                if not _DONTWAIT:
                    break
        except OSError as exc:
            if not closing.is_set():
                logger.error("%s: receiving failed: %s", where, exc)
            return
        if batch:
            inbox.put_many(batch)

"""The two workers of a started handler, made from its configuration and its parts."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from eq1_network.data import SendData
from eq1_network.packets.fragmentation import Reassembler
from eq1_network.worker.ack import AckWindow, DeliveryLedger
from eq1_network.worker.correlation import Correlator
from eq1_network.worker.delivery import Delivery
from eq1_network.worker.handoff import ReadHandoff
from eq1_network.worker.link import Link
from eq1_network.worker.listener import Listener
from eq1_network.worker.peers import ReplyRouter
from eq1_network.worker.requester import QueuedMessage, Requester
from eq1_network.worker.send_queue import BatchQueue

if TYPE_CHECKING:
    from eq1_network.network_config import NetworkConfig

__all__ = ["HandlerParts", "create_workers"]


@dataclass(frozen=True)
class HandlerParts:
    """What a handler's workers share with it.

    Attributes:
        queue: The send queue.
        delivery: Where received messages and events go.
        stopping: Set when the handler stops.
        epoch: This handler's random identity in acknowledged mode.
        on_failure: Called with the exception that ended a worker.
        window: The messages awaiting acknowledgement, in acknowledged mode.
        ledger: The deliveries recorded, in acknowledged mode.
        router: Where replies go over a protocol serving many peers.
        requests: The requests waiting for replies.
    """

    queue: BatchQueue[QueuedMessage]
    delivery: Delivery
    stopping: threading.Event
    epoch: int
    on_failure: Callable[[BaseException], None]
    window: AckWindow[SendData] | None
    ledger: DeliveryLedger | None
    router: ReplyRouter | None
    requests: Correlator


def create_workers(
    config: NetworkConfig, link: Link, parts: HandlerParts
) -> tuple[Requester, Listener]:
    """Make (without starting them) the send and receive workers of a handler.

    Args:
        config: The handler's configuration.
        link: The connected protocol.
        parts: What the workers share with the handler.

    Returns:
        The send worker and the receive worker.
    """
    max_message = link.protocol.max_message_size
    name = f"eq1-{type(link.protocol).__name__}"
    window = parts.window
    requester = Requester(
        queue=parts.queue,
        package=config.package,
        link=link,
        emit=parts.delivery.emit,
        window=window,
        epoch=parts.epoch,
        max_batch=config.max_batch,
        max_write_bytes=config.max_write_bytes,
        sent_events=config.sent_events,
        max_message=max_message,
        retransmit_after=config.ack_timeout if max_message is not None else None,
        router=parts.router,
        on_failure=parts.on_failure,
        name=f"{name}-requester",
    )
    listener = Listener(
        link=link,
        package=config.package,
        sink=parts.delivery,
        stopping=parts.stopping,
        on_ack=window.acknowledge if window is not None else None,
        ledger=parts.ledger,
        reassembler=lambda: Reassembler(
            max_bytes=config.reassembly_max_bytes, timeout=config.reassembly_timeout
        ),
        router=parts.router,
        peer_frame_timeout=config.peer_frame_timeout,
        messages=max_message is not None,
        handoff=_read_handoff(config, link, parts),
        name=f"{name}-listener",
    )
    return requester, listener


def _read_handoff(config: NetworkConfig, link: Link, parts: HandlerParts) -> ReadHandoff | None:
    """Let requests read their replies themselves, where that is safe (see ``handoff``).

    That is over one connection with stream framing, outside acknowledged mode, for a
    package whose messages the receive worker decodes straight from the stream.
    """
    package = config.package
    if (
        link.multi_peer is not None
        or parts.ledger is not None
        or link.protocol.max_message_size is not None
    ):
        return None
    stream = package.stream()
    limit = stream.payload_limit
    if limit is None or package.stream_reader(stream) is None:
        return None
    return ReadHandoff(link.protocol, limit, package.payload_decoder(), parts.requests)

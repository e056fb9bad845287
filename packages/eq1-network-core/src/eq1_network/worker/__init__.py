"""Workers: the :class:`Requester` sends, the :class:`Listener` receives.

Each worker owns a thread (it is not one).
"""

from eq1_network.worker.base import Worker
from eq1_network.worker.events import NetworkEvent, NetworkEventType
from eq1_network.worker.link import Link
from eq1_network.worker.listener import Listener
from eq1_network.worker.policy import QueueFullPolicy, ReconnectPolicy
from eq1_network.worker.requester import Requester
from eq1_network.worker.send_queue import BatchQueue

__all__ = [
    "BatchQueue",
    "Link",
    "Listener",
    "NetworkEvent",
    "NetworkEventType",
    "QueueFullPolicy",
    "ReconnectPolicy",
    "Requester",
    "Worker",
]

"""Conformance kit for protocol plugins: contract suites and test helpers.

Requires pytest. Plugin authors subclass :class:`ReqResContract` or
:class:`PubSubContract` in their own tests.
"""

from eq1_network.testing._collect import MessageCollector, read_exactly
from eq1_network.testing.events import EventLog
from eq1_network.testing.peers import free_port, require_executable, require_peers
from eq1_network.testing.pubsub import PubSubContract
from eq1_network.testing.reqres import ReqResContract

__all__ = [
    "EventLog",
    "MessageCollector",
    "PubSubContract",
    "ReqResContract",
    "free_port",
    "read_exactly",
    "require_executable",
    "require_peers",
]

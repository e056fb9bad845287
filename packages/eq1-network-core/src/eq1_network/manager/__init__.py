"""Connection managers: protocols registered and used by name."""

from eq1_network.manager.pubsub import PubSubManager
from eq1_network.manager.reqres import DEFAULT_READ_TIMEOUT, ReqResManager

__all__ = ["DEFAULT_READ_TIMEOUT", "PubSubManager", "ReqResManager"]

"""The embedded-default demo: a request/response and a publish/subscribe round trip.

Runs entirely in-process over the built-in ``loopback`` and ``memory`` protocols,
found through the plugin registry exactly as ``tcp`` or ``mqtt`` would be.
"""

from __future__ import annotations

import threading

from eq1_network.common.exceptions import ProtocolTimeoutError
from eq1_network.common.logging import get_logger
from eq1_network.interfaces.protocol import PubSubProtocol, ReqResProtocol
from eq1_network.manager.pubsub import PubSubManager
from eq1_network.manager.reqres import ReqResManager
from eq1_network.plugins.registry import ProtocolManager

__all__ = ["DemoResult", "run_demo"]

logger = get_logger(__name__)


class DemoResult:
    """What the demo exchanged.

    Attributes:
        request: Bytes sent over ``loopback``.
        response: Bytes read back.
        topic: Topic of the pub/sub message received.
        message: Payload received over ``memory``.
    """

    def __init__(self, request: bytes, response: bytes, topic: str, message: bytes) -> None:
        self.request = request
        self.response = response
        self.topic = topic
        self.message = message

    def lines(self) -> list[str]:
        """Return a human-readable report.

        Returns:
            One line per step.
        """
        return [
            f"protocols available: {', '.join(ProtocolManager.available())}",
            f"req/res  (loopback): sent {self.request!r}, read {self.response!r}",
            f"pub/sub  (memory):   received {self.message!r} on {self.topic!r}",
        ]


def run_demo(timeout: float = 5.0) -> DemoResult:
    """Run both round trips and return what was exchanged.

    Args:
        timeout: Longest wait for each reply, in seconds.

    Returns:
        The exchanged data.

    Raises:
        ProtocolTimeoutError: If a reply does not arrive in time.
    """
    reqres = ReqResManager.isolated()
    proto = ProtocolManager.create("loopback", timeout=timeout)
    assert isinstance(proto, ReqResProtocol)
    reqres.register("device", proto)
    reqres.connect("device")
    try:
        request = b"Hello Server!"
        reqres.send("device", request)
        response = reqres.read("device", timeout=timeout)
    finally:
        reqres.disconnect_all()

    pubsub = PubSubManager.isolated()
    for name in ("camera", "plc"):
        client = ProtocolManager.create("memory")
        assert isinstance(client, PubSubProtocol)
        pubsub.register(name, client)
        pubsub.connect(name)
    received: list[tuple[str, bytes]] = []
    arrived = threading.Event()

    def on_message(topic: str, payload: bytes) -> None:
        received.append((topic, payload))
        arrived.set()

    try:
        pubsub.subscribe("plc", "vision/+/result", on_message)
        pubsub.publish("camera", "vision/cam1/result", "OK part=42", qos=1)
        if not arrived.wait(timeout):
            raise ProtocolTimeoutError(f"no pub/sub message within {timeout} s")
    finally:
        pubsub.disconnect_all()
    topic, message = received[0]
    return DemoResult(request, response, topic, message)

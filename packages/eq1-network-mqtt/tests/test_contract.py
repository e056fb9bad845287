"""MQTTProtocol passes the pub/sub contract suite against a real broker."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from eq1_network.interfaces.protocol import PubSubProtocol
from eq1_network.testing import PubSubContract


class TestMQTTContract(PubSubContract):
    """The contract, on MQTT 3.1.1 against mosquitto (or amqtt when it is missing)."""

    @pytest.fixture
    def pubsub_factory(self, broker: Any, make_client: Any) -> Callable[[], PubSubProtocol]:
        return lambda: make_client(broker.port)

    def test_wildcards(self, clients: Any, prefix: str, broker: Any) -> None:
        if broker.kind == "amqtt":
            pytest.skip(
                "amqtt sends one copy per overlapping subscription, which MQTT 3.1.1 allows "
                "(section 3.3.5); mosquitto sends one, as the contract expects"
            )
        super().test_wildcards(clients, prefix)


class TestMQTT5Contract(PubSubContract):
    """The contract on MQTT 5.0 (subscription identifiers route overlapping filters)."""

    @pytest.fixture
    def pubsub_factory(self, mosquitto: Any, make_client: Any) -> Callable[[], PubSubProtocol]:
        return lambda: make_client(mosquitto.port, protocol_version=5)

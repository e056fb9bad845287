"""Publish and subscribe through an MQTT broker.

The broker address, port and credentials come from the environment, so the script
runs against any broker::

    MQTT_HOST=127.0.0.1 MQTT_PORT=1883 MQTT_USERNAME=me MQTT_PASSWORD=secret \\
        python examples/mqtt_example.py

Leave MQTT_USERNAME unset for a broker that allows anonymous clients (a local
``mosquitto`` started with no configuration does). The message is not retained, so
the script leaves nothing behind on the broker.
"""

import os

from eq1_network.protocols.mqtt.mqtt_protocol import BrokerConfig, ClientConfig, MQTTProtocol

# Where the broker is and how to log in.
broker_config = BrokerConfig(
    broker_address=os.environ.get("MQTT_HOST", "localhost"),
    port=int(os.environ.get("MQTT_PORT", "1883")),
    username=os.environ.get("MQTT_USERNAME"),
    password=os.environ.get("MQTT_PASSWORD"),
)
client_config = ClientConfig()

mqtt = MQTTProtocol(broker_config, client_config)

# connect() returns once the broker accepted the connection, or raises.
mqtt.connect()


def message_callback(topic: str, payload: bytes) -> None:
    print(f"Received: [{topic}] {payload.decode()}")


# subscribe() returns once the broker confirmed the subscription.
mqtt.subscribe("topic/test", message_callback)
mqtt.publish("topic/test", "hello", qos=1)
# disconnect() waits for the broker to acknowledge the publish and delivers the
# messages that arrived before it.
mqtt.disconnect()

"""The requirements' MQTT scenario ("현재 구현된 MQTT 예시"), runnable as it stands.

Only the broker address, port and credentials differ from the requirements document
(plus the import order and blank lines the project's formatter asks for): they come
from the environment so the script runs against any broker::

    MQTT_HOST=127.0.0.1 MQTT_PORT=1883 MQTT_USERNAME=me MQTT_PASSWORD=secret \\
        python examples/mqtt_example.py

Leave MQTT_USERNAME unset for a broker that allows anonymous clients.
"""

import os

from eq1_network.protocols.mqtt.mqtt_protocol import BrokerConfig, ClientConfig, MQTTProtocol

# 기본 인증 설정
broker_config = BrokerConfig(
    broker_address=os.environ.get("MQTT_HOST", "localhost"),
    port=int(os.environ.get("MQTT_PORT", "1883")),
    username=os.environ.get("MQTT_USERNAME"),
    password=os.environ.get("MQTT_PASSWORD"),
)
client_config = ClientConfig()

mqtt = MQTTProtocol(broker_config, client_config)

# 명시적 연결 필요
mqtt.connect()


def message_callback(topic: str, payload: bytes):
    print(f"Received: [{topic}] {payload.decode()}")


mqtt.subscribe("topic/test", message_callback)
mqtt.publish("topic/test", "hello", qos=1, retain=True)
mqtt.disconnect()

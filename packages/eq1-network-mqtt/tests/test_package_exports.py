"""The package module exports its public names without importing paho-mqtt."""

from __future__ import annotations

import subprocess
import sys

import eq1_network.protocols.mqtt as mqtt_package
from eq1_network.common.exceptions import ProtocolError, ProtocolValidationError


def test_every_exported_name_resolves() -> None:
    for name in mqtt_package.__all__:
        assert getattr(mqtt_package, name) is not None, name


def test_refusal_errors_are_library_errors() -> None:
    assert issubclass(mqtt_package.MQTTRefusalError, ProtocolError)
    assert issubclass(mqtt_package.MQTTValidationRefusalError, mqtt_package.MQTTRefusalError)
    assert issubclass(mqtt_package.MQTTValidationRefusalError, ProtocolValidationError)


def test_config_and_errors_load_without_paho() -> None:
    code = (
        "import sys\n"
        "from eq1_network.protocols.mqtt import ClientConfig, MQTTRefusalError\n"
        "assert not any(m.startswith('paho') for m in sys.modules), 'paho imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)

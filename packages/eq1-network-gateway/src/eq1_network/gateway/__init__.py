"""EQ-1 Network gateway: Modbus, serial and TCP endpoints bridged to MQTT from one YAML file.

Run it with ``eq1-network gateway --config FILE`` or in code::

    from eq1_network.gateway import Gateway, load_config

    with Gateway(load_config("gateway.yaml")) as gateway:
        ...  # polling and bridging run on the gateway's threads
"""

from eq1_network.gateway.config import ConfigError, GatewayConfig, load_config, parse_config
from eq1_network.gateway.runtime import Gateway

__all__ = ["ConfigError", "Gateway", "GatewayConfig", "load_config", "parse_config"]

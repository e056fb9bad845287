"""EQ-1 Network gateway: Modbus, serial and TCP endpoints bridged to MQTT from one YAML file.

Run it with ``eq1-network gateway --config FILE`` or in code::

    from eq1_network.gateway import Gateway, load_config

    with Gateway(load_config("gateway.yaml")) as gateway:
        ...  # polling and bridging run on the gateway's threads

The names below are imported lazily, so that building the command line (which imports
:mod:`eq1_network.gateway.plugin`) imports neither PyYAML nor pydantic nor the plugins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from eq1_network.common.lazy import LazyExports

if TYPE_CHECKING:
    from eq1_network.gateway.config import ConfigError, GatewayConfig, load_config, parse_config
    from eq1_network.gateway.runtime import Gateway

__all__ = ["ConfigError", "Gateway", "GatewayConfig", "load_config", "parse_config"]

_EXPORTS = LazyExports(
    __name__,
    globals(),
    {
        ".config": ("ConfigError", "GatewayConfig", "load_config", "parse_config"),
        ".runtime": ("Gateway",),
    },
)
__getattr__ = _EXPORTS.getattr
__dir__ = _EXPORTS.dir

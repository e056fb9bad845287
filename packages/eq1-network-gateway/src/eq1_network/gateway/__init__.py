"""EQ-1 Network gateway: Modbus, serial and TCP endpoints bridged to MQTT from one YAML file.

Run it with ``eq1-network gateway --config FILE`` or in code::

    from eq1_network.gateway import Gateway, load_config

    with Gateway(load_config("gateway.yaml")) as gateway:
        ...  # polling and bridging run on the gateway's threads

The names below are imported lazily, so that building the command line (which imports
:mod:`eq1_network.gateway.plugin`) imports neither PyYAML nor pydantic nor the plugins.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eq1_network.gateway.config import ConfigError, GatewayConfig, load_config, parse_config
    from eq1_network.gateway.runtime import Gateway

__all__ = ["ConfigError", "Gateway", "GatewayConfig", "load_config", "parse_config"]

_HOMES = {
    "ConfigError": "config",
    "GatewayConfig": "config",
    "load_config": "config",
    "parse_config": "config",
    "Gateway": "runtime",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)


def __dir__() -> list[str]:
    return sorted(__all__)

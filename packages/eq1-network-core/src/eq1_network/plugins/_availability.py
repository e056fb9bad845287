"""Why a protocol is missing: plugins that failed to load, and first-party install hints."""

from __future__ import annotations

from eq1_network.common.exceptions import PluginLoadError, ProtocolNotFoundError

__all__ = [
    "FIRST_PARTY_NAMES",
    "FIRST_PARTY_SCHEMES",
    "LoadFailure",
    "ProtocolUnavailableError",
    "install_hint",
]

_EXTRA_BY_DISTRIBUTION = {
    "eq1-network-tcp": "tcp",
    "eq1-network-mqtt": "mqtt",
    "eq1-network-serial": "serial",
    "eq1-network-modbus": "modbus",
    "eq1-network-udp": "udp",
}

FIRST_PARTY_NAMES: dict[str, str] = {
    "tcp": "eq1-network-tcp",
    "tcp-server": "eq1-network-tcp",
    "tcp-echo": "eq1-network-tcp",
    "mqtt": "eq1-network-mqtt",
    "serial": "eq1-network-serial",
    "serial-ports": "eq1-network-serial",
    **dict.fromkeys(
        (
            "modbus",
            "modbus-tcp",
            "modbus-rtu",
            "modbus-ascii",
            "modbus-rtu-tcp",
            "modbus-tcp-server",
            "modbus-rtu-server",
        ),
        "eq1-network-modbus",
    ),
    "udp": "eq1-network-udp",
    "udp-server": "eq1-network-udp",
}
"""First-party protocol and command names, and the distribution that provides each."""

FIRST_PARTY_SCHEMES: dict[str, str] = {
    "tcp": "eq1-network-tcp",
    "tls": "eq1-network-tcp",
    "tcp-listen": "eq1-network-tcp",
    "mqtt": "eq1-network-mqtt",
    "mqtts": "eq1-network-mqtt",
    "serial": "eq1-network-serial",
    "socket": "eq1-network-serial",
    "rfc2217": "eq1-network-serial",
    **dict.fromkeys(
        ("modbus", "modbus+tcp", "modbus+rtu", "modbus+ascii", "modbus+rtu+tcp"),
        "eq1-network-modbus",
    ),
    "udp": "eq1-network-udp",
    "udp-listen": "eq1-network-udp",
}
"""First-party URL schemes, and the distribution that provides each."""


def install_hint(distribution: str) -> str:
    """Return the command that installs a first-party distribution.

    Args:
        distribution: E.g. ``"eq1-network-tcp"``.

    Returns:
        E.g. ``'pip install "eq1-network[tcp]"'``.
    """
    extra = _EXTRA_BY_DISTRIBUTION.get(distribution)
    return f'pip install "eq1-network[{extra}]"' if extra else f"pip install {distribution}"


class LoadFailure:
    """A plugin module that could not be imported.

    Args:
        name: The entry point (or protocol) name.
        module: The module that failed to import.
        distribution: The distribution that provides it, when known.
        exception: The exception the import raised.

    Attributes:
        name: The entry point (or protocol) name.
        module: The module that failed to import.
        distribution: The distribution that provides it, when known.
        exception: The exception the import raised.
    """

    __slots__ = ("distribution", "exception", "module", "name")

    def __init__(
        self, name: str, module: str, distribution: str | None, exception: BaseException
    ) -> None:
        self.name = name
        self.module = module
        self.distribution = distribution
        self.exception = exception

    def __repr__(self) -> str:
        return (
            f"LoadFailure(name={self.name!r}, module={self.module!r}, "
            f"distribution={self.distribution!r}, exception={self.exception!r})"
        )

    def describe(self) -> str:
        """One line for messages: what failed, where from, and why."""
        return (
            f"module {self.module!r} from distribution {self.distribution or '<unknown>'} "
            f"failed to import: {type(self.exception).__name__}: {self.exception}"
        )


class ProtocolUnavailableError(ProtocolNotFoundError, PluginLoadError):
    """A protocol is known but its plugin could not be loaded.

    Both a :class:`ProtocolNotFoundError` (the lookup failed) and a
    :class:`PluginLoadError` (the import failed); the import's exception is the
    ``__cause__``.

    Attributes:
        name: The protocol name or URL scheme looked up.
        module: The module that failed to import.
        distribution: The distribution that provides it, when known.
        exception: The exception the import raised.
    """

    def __init__(self, message: str, *, name: str, failure: LoadFailure) -> None:
        PluginLoadError.__init__(self, message, distribution=failure.distribution)
        self.name = name
        self.module = failure.module
        self.exception = failure.exception

"""URLs of the serial protocol: ``serial://`` devices and pyserial's ``socket://``/``rfc2217://``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from eq1_network.urls import query_kwargs

if TYPE_CHECKING:
    from eq1_network.interfaces.protocol import BaseProtocol
    from eq1_network.urls import ParsedURL

__all__ = ["serial_url_kwargs"]

_NETWORK_SCHEMES = ("socket", "rfc2217")


def _port(url: ParsedURL) -> str:
    if url.scheme in _NETWORK_SCHEMES:
        if not url.host or url.port is None:
            raise url.error(f"{url.scheme}:// needs a host and a port, e.g. {url.scheme}://h:4000")
        if url.path not in ("", "/"):
            raise url.error(f"{url.scheme}:// takes no path, but the URL gives {url.path!r}")
        return f"{url.scheme}://{url.netloc}"
    if url.port is not None:
        raise url.error("serial:// takes no port number; name the device, e.g. serial://COM3")
    if url.host and url.path:
        raise url.error(
            "a device path needs three slashes (serial:///dev/ttyUSB0); "
            "serial://NAME is for names such as COM3"
        )
    device = url.host or url.path
    if not device or device == "/":
        raise url.error("SerialProtocol needs a device: serial:///dev/ttyUSB0 or serial://COM3")
    return device


def serial_url_kwargs(cls: type[BaseProtocol], url: ParsedURL) -> dict[str, Any]:
    """Map a serial URL to constructor arguments.

    ``serial:///dev/ttyUSB0`` and ``serial://COM3`` name a device;
    ``socket://host:port`` and ``rfc2217://host:port`` are passed to pyserial as the
    port. Query parameters (``baudrate``, ``parity``, ``stopbits``, ``timeout``, ...)
    map to the constructor by name.

    Args:
        cls: ``SerialProtocol``.
        url: The parsed URL.

    Returns:
        The keyword arguments.

    Raises:
        ProtocolConfigurationError: If the device is missing, credentials are given, or
            a parameter is unknown or ill-typed.
    """
    if url.username is not None or url.password is not None:
        raise url.error("SerialProtocol takes no user name or password")
    kwargs = query_kwargs(cls, url.params, where=f"URL {url.masked!r}", exclude=("port",))
    kwargs["port"] = _port(url)
    return kwargs

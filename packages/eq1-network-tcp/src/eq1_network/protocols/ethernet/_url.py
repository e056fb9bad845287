"""URLs of the TCP protocols: ``tcp://``, ``tls://`` and ``tcp-listen://``."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from eq1_network.common.exceptions import ProtocolConfigurationError
from eq1_network.urls import coerce, config_class, default_url_kwargs, query_kwargs

if TYPE_CHECKING:
    from eq1_network.interfaces.protocol import BaseProtocol
    from eq1_network.urls import ParsedURL

__all__ = ["tcp_url_kwargs"]

_TLS_SCHEMES = ("tls", "tls-listen")


def tcp_url_kwargs(cls: type[BaseProtocol], url: ParsedURL) -> dict[str, Any]:
    """Map a TCP URL to constructor arguments, TLS included.

    ``tls://host:port`` or ``tls=true`` turns TLS on; the TLS settings class's
    fields (``cafile``, ``certfile``, ``keyfile``, ``server_hostname``, ...) are
    query parameters too, and giving any of them turns TLS on as well. The other
    parameters map to the constructor by name (``timeout``, ``keepalive``, ...).

    Args:
        cls: ``TCPClient`` or ``TCPServer``.
        url: The parsed URL.

    Returns:
        The keyword arguments; ``tls`` holds a TLS settings object when TLS is on.

    Raises:
        ProtocolConfigurationError: If a parameter is unknown or ill-typed, or
            ``tls=false`` contradicts a ``tls://`` scheme.
    """
    tls_class = config_class(cls, "tls")
    params = dict(url.params)
    want_tls = url.scheme in _TLS_SCHEMES
    raw = params.pop("tls", None)
    if raw is not None:
        try:
            flag = coerce("tls", raw, bool)
        except ProtocolConfigurationError as exc:
            raise url.error(str(exc)) from None
        if want_tls and not flag:
            raise url.error(f"tls={raw} contradicts the {url.scheme}:// scheme; drop one")
        want_tls = flag
    tls_fields = set() if tls_class is None else {f.name for f in dataclasses.fields(tls_class)}
    tls_params = {k: params.pop(k) for k in list(params) if k in tls_fields and k != "password"}
    kwargs = default_url_kwargs(cls, dataclasses.replace(url, params=params))
    if tls_class is not None and (want_tls or tls_params):
        where = f"URL {url.masked!r} (TLS)"
        kwargs["tls"] = tls_class(**query_kwargs(tls_class, tls_params, where=where))
    return kwargs

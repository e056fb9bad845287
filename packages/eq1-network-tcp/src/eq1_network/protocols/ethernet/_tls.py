"""TLS settings: an :class:`eq1_network.TLSConfig` of file paths, or an ``ssl.SSLContext``."""

from __future__ import annotations

import ssl

from eq1_network.common.exceptions import ProtocolConfigurationError, ProtocolTypeError
from eq1_network.common.policies import TLSConfig

__all__ = ["TLSConfig", "TLSOption", "client_context", "server_context"]


TLSOption = ssl.SSLContext | TLSConfig | None
"""What the ``tls`` parameter accepts."""


def client_context(tls: TLSOption) -> ssl.SSLContext | None:
    """Turn the client's ``tls`` argument into a context.

    Args:
        tls: ``None`` (plain TCP), a ready client ``SSLContext`` or a :class:`TLSConfig`.

    Returns:
        The context, or ``None`` for plain TCP.

    Raises:
        ProtocolTypeError: If ``tls`` has another type.
        ProtocolConfigurationError: If the context is a server context or files fail to load.
    """
    if tls is None:
        return None
    if isinstance(tls, ssl.SSLContext):
        if tls.protocol == ssl.PROTOCOL_TLS_SERVER:
            raise ProtocolConfigurationError(
                "tls: a client needs a client context (ssl.PROTOCOL_TLS_CLIENT), "
                "got a PROTOCOL_TLS_SERVER context"
            )
        return tls
    if not isinstance(tls, TLSConfig):
        raise ProtocolTypeError(
            f"tls must be an ssl.SSLContext or a TLSConfig, got {type(tls).__name__}"
        )
    return tls.client_context()


def server_context(tls: TLSOption) -> ssl.SSLContext | None:
    """Turn the server's ``tls`` argument into a context.

    Args:
        tls: ``None`` (plain TCP), a ready server ``SSLContext`` or a :class:`TLSConfig`
            with ``certfile``.

    Returns:
        The context, or ``None`` for plain TCP.

    Raises:
        ProtocolTypeError: If ``tls`` has another type.
        ProtocolConfigurationError: If it is a client context, the certificate is
            missing, or files fail to load.
    """
    if tls is None:
        return None
    if isinstance(tls, ssl.SSLContext):
        if tls.protocol == ssl.PROTOCOL_TLS_CLIENT:
            raise ProtocolConfigurationError(
                "tls: a server needs a server context (ssl.PROTOCOL_TLS_SERVER), "
                "got a PROTOCOL_TLS_CLIENT context"
            )
        return tls
    if not isinstance(tls, TLSConfig):
        raise ProtocolTypeError(
            f"tls must be an ssl.SSLContext or a TLSConfig, got {type(tls).__name__}"
        )
    return tls.server_context()

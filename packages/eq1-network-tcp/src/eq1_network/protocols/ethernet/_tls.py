"""TLS settings: a :class:`TLSConfig` of file paths, or a ready :class:`ssl.SSLContext`."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path

from eq1_network.common.exceptions import ProtocolConfigurationError, ProtocolTypeError

__all__ = ["TLSConfig", "TLSOption", "client_context", "server_context"]


@dataclass(frozen=True)
class TLSConfig:
    """TLS built from certificate files, for users who do not build an ``SSLContext``.

    On a client, ``cafile`` names the CA bundle that verifies the server (the system
    store when ``None``) and ``certfile``/``keyfile`` an optional client certificate.
    On a server, ``certfile``/``keyfile`` are required and ``cafile``, when given,
    makes the server demand and verify a client certificate (mutual TLS).

    Args:
        certfile: PEM certificate chain of this side.
        keyfile: PEM private key of ``certfile`` (when not inside ``certfile``).
        cafile: PEM CA certificates that verify the other side.
        password: Password of an encrypted key; never shown in ``repr``.
        server_hostname: Name the client checks the server certificate against;
            the client's ``host`` when ``None``.
        check_hostname: Whether a client verifies the server's name.
        minimum_version: Oldest TLS version accepted.

    Raises:
        ProtocolConfigurationError: If a named file does not exist or a key is
            given without a certificate.
    """

    certfile: str | Path | None = None
    keyfile: str | Path | None = None
    cafile: str | Path | None = None
    password: str | None = field(default=None, repr=False)
    server_hostname: str | None = None
    check_hostname: bool = True
    minimum_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2

    def __post_init__(self) -> None:
        for name in ("certfile", "keyfile", "cafile"):
            value = getattr(self, name)
            if value is not None and not Path(value).is_file():
                raise ProtocolConfigurationError(f"TLSConfig.{name}: no such file: {value!s}")
        if self.keyfile is not None and self.certfile is None:
            raise ProtocolConfigurationError("TLSConfig.keyfile needs TLSConfig.certfile as well")

    def _load_chain(self, context: ssl.SSLContext) -> None:
        if self.certfile is None:
            return
        try:
            context.load_cert_chain(self.certfile, self.keyfile, self.password)
        except (OSError, ssl.SSLError) as exc:
            raise ProtocolConfigurationError(
                f"TLSConfig: cannot load certfile {self.certfile!s} "
                f"(keyfile {self.keyfile!s}): {exc}"
            ) from exc

    def _load_ca(self, context: ssl.SSLContext) -> None:
        try:
            context.load_verify_locations(cafile=self.cafile)
        except (OSError, ssl.SSLError) as exc:
            raise ProtocolConfigurationError(
                f"TLSConfig: cannot load cafile {self.cafile!s}: {exc}"
            ) from exc


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
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = tls.minimum_version
    if tls.cafile is None:
        context.load_default_certs(ssl.Purpose.SERVER_AUTH)
    else:
        tls._load_ca(context)
    context.check_hostname = tls.check_hostname
    tls._load_chain(context)
    return context


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
    if tls.certfile is None:
        raise ProtocolConfigurationError("tls: a server TLSConfig needs certfile (and keyfile)")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = tls.minimum_version
    tls._load_chain(context)
    if tls.cafile is not None:
        tls._load_ca(context)
        context.verify_mode = ssl.CERT_REQUIRED
    return context

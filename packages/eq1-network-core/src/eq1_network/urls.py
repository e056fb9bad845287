"""Endpoint URLs: parsing, password masking and the default mapping to constructor arguments.

A URL names one endpoint: ``scheme://[user[:password]@]host[:port][/path][?name=value&...]``.
The scheme selects the protocol (see :func:`eq1_network.from_url`); the protocol
class turns the rest into constructor keyword arguments with its ``url_kwargs``
classmethod. The default, :func:`default_url_kwargs`, maps ``host``, ``port``,
``path``, ``username`` and ``password`` to the constructor parameters of those
names and every query parameter to the keyword argument of the same name,
converted by the parameter's annotation (see :func:`coerce`).

A password never appears in messages: :func:`mask_url` replaces it (and the value
of any query parameter whose name contains ``password``, ``secret`` or ``token``)
with ``***``. ``password_env=NAME`` reads the password from an environment
variable and ``password_file=PATH`` from a file, so it need not be on a command line.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl, unquote

from eq1_network._coercion import (
    MASK,
    coerce,
    config_class,
    is_secret,
    parameters,
    type_hints,
)
from eq1_network.common.exceptions import ProtocolConfigurationError, ProtocolError

if TYPE_CHECKING:
    from eq1_network.interfaces.protocol import BaseProtocol

__all__ = [
    "MASK",
    "ParsedURL",
    "build_from_url",
    "check_keywords",
    "coerce",
    "config_class",
    "default_url_kwargs",
    "mask_url",
    "parse_url",
    "query_kwargs",
    "scheme_of",
]

_P = TypeVar("_P", bound="BaseProtocol")


_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")


@dataclasses.dataclass(frozen=True)
class ParsedURL:
    """The parts of an endpoint URL.

    Attributes:
        scheme: The scheme, lowercased (``"tcp"``).
        host: The host as written (IPv6 literals without brackets), ``None`` when absent.
        port: The port, ``None`` when absent.
        username: The user name, ``None`` when absent.
        password: The password (inline, or read through ``password_env`` /
            ``password_file``); never shown in ``repr``.
        path: The path, percent-decoded (``""`` when absent).
        params: The query parameters other than ``password_env`` / ``password_file``.
        masked: The URL as given, with the password replaced by ``***``; use it in messages.
    """

    scheme: str
    host: str | None
    port: int | None
    username: str | None
    password: str | None = dataclasses.field(repr=False)
    path: str
    params: dict[str, str]
    masked: str

    @property
    def netloc(self) -> str:
        """``host[:port]``, with brackets around an IPv6 literal; no credentials."""
        host = self.host or ""
        if ":" in host:
            host = f"[{host}]"
        return host if self.port is None else f"{host}:{self.port}"

    def error(self, message: str) -> ProtocolConfigurationError:
        """Build a configuration error about this URL, the password masked.

        Args:
            message: What is wrong and how to fix it.

        Returns:
            The error, its message starting with the masked URL.
        """
        return ProtocolConfigurationError(f"URL {self.masked!r}: {scrub(message, self.password)}")


def scrub(text: str, secret: str | None) -> str:
    """Replace every occurrence of ``secret`` in ``text`` with ``***``.

    Args:
        text: A message.
        secret: The value to hide; nothing is replaced when it is empty or ``None``.

    Returns:
        The message without the secret.
    """
    return text.replace(secret, MASK) if secret else text


def mask_url(url: str) -> str:
    """Return ``url`` with its password (and secret query values) replaced by ``***``.

    Works on malformed URLs too, so that error messages can always show the URL.

    Args:
        url: Any string.

    Returns:
        The masked string.
    """
    match = _SCHEME.match(url)
    start = match.end() if match else url.find("//") + 2 if "//" in url else 0
    end = len(url)
    for stop in "/?#":
        found = url.find(stop, start)
        if found != -1:
            end = min(end, found)
    netloc = url[start:end]
    userinfo, at, hostport = netloc.rpartition("@")
    if at and ":" in userinfo:
        user = userinfo.partition(":")[0]
        url = f"{url[:start]}{user}:{MASK}@{hostport}{url[end:]}"
    base, question, query = url.partition("?")
    if not question:
        return url
    query, hash_, fragment = query.partition("#")
    parts = []
    for item in query.split("&"):
        name, eq, _ = item.partition("=")
        parts.append(f"{name}={MASK}" if eq and is_secret(unquote(name)) else item)
    return f"{base}?{'&'.join(parts)}{hash_}{fragment}"


def scheme_of(url: str) -> str:
    """Return the lowercased scheme of a URL.

    Args:
        url: The URL.

    Returns:
        The scheme, e.g. ``"tcp"``.

    Raises:
        ProtocolConfigurationError: If ``url`` is not a string starting with ``scheme://``.
    """
    if not isinstance(url, str):
        raise ProtocolConfigurationError(f"a URL must be a str, got {type(url).__name__}")
    match = _SCHEME.match(url)
    if match is None:
        raise ProtocolConfigurationError(
            f"{mask_url(url)!r} is not a URL: expected 'scheme://...', e.g. 'tcp://host:5000'"
        )
    return match.group(1).lower()


def _split_hostport(hostport: str, masked: str) -> tuple[str | None, int | None]:
    if hostport.startswith("["):
        host, bracket, rest = hostport[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ProtocolConfigurationError(
                f"URL {masked!r}: an IPv6 address must look like [::1] or [::1]:5000"
            )
        port_text = rest[1:] if rest else None
    elif hostport.count(":") > 1:
        raise ProtocolConfigurationError(
            f"URL {masked!r}: put an IPv6 address in brackets, e.g. tcp://[::1]:5000"
        )
    else:
        host, colon, port_text_raw = hostport.partition(":")
        port_text = port_text_raw if colon else None
    port: int | None = None
    if port_text is not None:
        if not port_text.isdigit() or int(port_text) > 65535:
            raise ProtocolConfigurationError(
                f"URL {masked!r}: port must be a number from 0 to 65535, got {port_text!r}"
            )
        port = int(port_text)
    return unquote(host) or None, port


def _query(query: str, masked: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        if not name:
            raise ProtocolConfigurationError(f"URL {masked!r}: a query parameter has no name")
        if name in params:
            raise ProtocolConfigurationError(
                f"URL {masked!r}: parameter {name!r} is given twice; give it once"
            )
        params[name] = value
    return params


def _password(params: dict[str, str], inline: str | None, masked: str) -> str | None:
    env = params.pop("password_env", None)
    file = params.pop("password_file", None)
    given = [
        n for n, v in (("inline", inline), ("password_env", env), ("password_file", file)) if v
    ]
    if len(given) > 1:
        raise ProtocolConfigurationError(
            f"URL {masked!r}: the password is given more than once ({', '.join(given)}); "
            "give one of user:password@, password_env=NAME or password_file=PATH"
        )
    if env:
        value = os.environ.get(env)
        if value is None:
            raise ProtocolConfigurationError(
                f"URL {masked!r}: password_env names the environment variable {env!r}, "
                "which is not set; set it or pass the password another way"
            )
        return value
    if file:
        try:
            return Path(file).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise ProtocolConfigurationError(
                f"URL {masked!r}: password_file {file!r} cannot be read "
                f"({type(exc).__name__}); give a readable file"
            ) from None
    return inline


def parse_url(url: str) -> ParsedURL:
    """Split an endpoint URL into its parts.

    Args:
        url: ``scheme://[user[:password]@]host[:port][/path][?query]``; IPv6 literals
            in brackets (``tcp://[::1]:5000``).

    Returns:
        The parts; ``password_env`` / ``password_file`` are already resolved.

    Raises:
        ProtocolConfigurationError: If the URL is malformed, has a fragment, repeats a
            query parameter, or its password cannot be read.
    """
    scheme = scheme_of(url)
    masked = mask_url(url)
    rest = url[len(scheme) + 3 :]
    if "#" in rest:
        raise ProtocolConfigurationError(
            f"URL {masked!r}: a '#fragment' means nothing here; remove it"
        )
    rest, _, query = rest.partition("?")
    slash = rest.find("/")
    netloc, path = (rest, "") if slash == -1 else (rest[:slash], rest[slash:])
    userinfo, at, hostport = netloc.rpartition("@")
    username: str | None = None
    inline: str | None = None
    if at:
        user, colon, secret = userinfo.partition(":")
        username = unquote(user) or None
        inline = unquote(secret) if colon else None
    host, port = _split_hostport(hostport, masked)
    params = _query(query, masked)
    password = _password(params, inline, masked)
    return ParsedURL(scheme, host, port, username, password, unquote(path), params, masked)


def check_keywords(target: Callable[..., Any], names: Any, *, where: str) -> None:
    """Check that every name is a keyword parameter of ``target``.

    Args:
        target: A class or function.
        names: The keyword names given (any iterable of str).
        where: What is being configured, for messages (``"tcp"``).

    Raises:
        ProtocolConfigurationError: Naming the first unknown parameter and listing the valid ones.
    """
    params, var_keyword = parameters(target)
    if var_keyword:
        return
    for name in names:
        if name not in params:
            valid = ", ".join(sorted(params)) or "none"
            raise ProtocolConfigurationError(
                f"{where}: unknown parameter {name!r}; valid parameters: {valid}"
            )


def query_kwargs(
    target: Callable[..., Any],
    params: Mapping[str, str],
    *,
    where: str,
    exclude: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Map query parameters to keyword arguments of ``target``, converted by annotation.

    Args:
        target: A class (its constructor, or its fields for a dataclass) or function.
        params: Name to text.
        where: What is being configured, for messages.
        exclude: Parameters the URL sets otherwise (e.g. ``host``); not accepted in the query.

    Returns:
        The keyword arguments.

    Raises:
        ProtocolConfigurationError: If a name is unknown (the message lists the valid
            ones) or a value does not fit its type.
    """
    named, _ = parameters(target)
    valid = sorted(n for n in named if n not in exclude)
    hints = type_hints(target)
    kwargs: dict[str, Any] = {}
    for name, raw in params.items():
        if name not in valid:
            raise ProtocolConfigurationError(
                f"{where}: unknown parameter {name!r}; valid parameters: "
                f"{', '.join(valid) or 'none'}"
            )
        annotation = hints.get(name, Any)
        try:
            kwargs[name] = coerce(name, raw, annotation)
        except ProtocolConfigurationError as exc:
            raise ProtocolConfigurationError(f"{where}: {exc}") from None
    return kwargs


def _required(param: inspect.Parameter | None) -> bool:
    return param is not None and param.default is inspect.Parameter.empty


def default_url_kwargs(cls: type[BaseProtocol], url: ParsedURL) -> dict[str, Any]:
    """Map a URL to constructor keyword arguments by the constructor's signature.

    ``host``, ``port``, ``path``, ``username`` and ``password`` go to the constructor
    parameters of those names; query parameters go to the keyword arguments of the
    same name, converted by :func:`coerce`.

    Args:
        cls: The protocol class.
        url: The parsed URL.

    Returns:
        The keyword arguments.

    Raises:
        ProtocolConfigurationError: If a part the constructor requires is missing, a
            part it does not take is given, or a query parameter is unknown or ill-typed.
    """
    named, _ = parameters(cls)
    kwargs: dict[str, Any] = {}
    parts: dict[str, object] = {
        "host": url.host,
        "port": url.port,
        "path": url.path if url.path not in ("", "/") else None,
        "username": url.username,
        "password": url.password,
    }
    for part, value in parts.items():
        param = named.get(part)
        if value is None:
            if _required(param):
                raise url.error(f"{cls.__name__} needs a {part}; e.g. {url.scheme}://host:5000")
            continue
        if param is None:
            shown = "a password" if part == "password" else f"a {part} ({value!s})"
            raise url.error(f"{cls.__name__} takes no {part}, but the URL gives {shown}")
        kwargs[part] = value
    kwargs.update(query_kwargs(cls, url.params, where=f"URL {url.masked!r}", exclude=tuple(parts)))
    return kwargs


def build_from_url(cls: type[_P], url: str, overrides: Mapping[str, Any]) -> _P:
    """Create an unconnected ``cls`` from a URL; the work behind ``BaseProtocol.from_url``.

    Args:
        cls: The protocol class.
        url: The endpoint URL.
        overrides: Constructor keyword arguments that replace those from the URL.

    Returns:
        The new protocol.

    Raises:
        ProtocolConfigurationError: If the URL or an override is invalid; the message
            shows the URL with its password masked.
    """
    parsed = parse_url(url)
    try:
        kwargs = cls.url_kwargs(parsed)
        check_keywords(cls, overrides, where=f"{cls.__name__}.from_url")
        kwargs.update(overrides)
        return cls(**kwargs)
    except (ProtocolError, TypeError, ValueError) as exc:
        message = scrub(str(exc), parsed.password)
        if parsed.masked in message:
            raise ProtocolConfigurationError(message) from None
        raise parsed.error(message) from None

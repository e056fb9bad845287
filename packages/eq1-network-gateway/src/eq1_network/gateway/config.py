"""The gateway's configuration file: YAML parsed by PyYAML, validated by pydantic.

Every error names the file, the line and the key (``gw.yaml:14: bridges[0].points[2].type:
...``); unknown keys, wrong types and duplicate keys are errors. Secrets are named
(``password_env``, ``password_file``), never written in the file, and never printed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from eq1_network.common.exceptions import ProtocolConfigurationError, ProtocolError
from eq1_network.protocols.modbus.values import BYTE_ORDERS, VALUE_TYPES

__all__ = [
    "BridgeConfig",
    "ConfigError",
    "ConnectionConfig",
    "GatewayConfig",
    "PointConfig",
    "load_config",
    "parse_config",
]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
REGISTER_TABLES = ("holding", "input")
BIT_TABLES = ("coil", "discrete")


class ConfigError(ProtocolConfigurationError):
    """The configuration file is not valid; ``errors`` lists every problem found.

    Attributes:
        errors: One line per problem: ``FILE:LINE: KEY: what is wrong``.
    """

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


def _duration(value: Any) -> Any:
    """Turn ``0.5``, ``"500ms"``, ``"2s"``, ``"1m"`` or ``"1h"`` into seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a text like 500ms, 2s, 1m")
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match is None:
            raise ValueError(f"{value!r} is not a duration: write 0.5, 500ms, 2s, 1m or 1h")
        return float(match.group(1)) * _UNITS[match.group(2)]
    return value


Duration = Annotated[float, BeforeValidator(_duration), Field(gt=0, allow_inf_nan=False)]
QoS = Literal[0, 1, 2]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ConnectionConfig(_Model):
    """One named endpoint: a URL and where its password comes from."""

    url: str = Field(min_length=3)
    password_env: str | None = Field(default=None, min_length=1)
    password_file: str | None = Field(default=None, min_length=1)
    queue: int = Field(default=10000, ge=1, le=10_000_000)
    overflow: Literal["drop_oldest", "drop_newest"] = "drop_oldest"
    share_group: str | None = Field(default=None, min_length=1, pattern=r"^[^/+#]+$")

    @field_validator("url")
    @classmethod
    def _is_url(cls, url: str) -> str:
        if "://" not in url:
            raise ValueError(f"{url!r} is not a URL: write scheme://host:port?options")
        return url

    @model_validator(mode="after")
    def _one_secret(self) -> ConnectionConfig:
        if self.password_env and self.password_file:
            raise ValueError("give password_env or password_file, not both")
        return self


class PointConfig(_Model):
    """One value of a Modbus device published on a topic."""

    name: str = Field(min_length=1)
    table: Literal["holding", "input", "coil", "discrete"]
    address: int = Field(ge=0, le=65535)
    type: Literal[(*VALUE_TYPES, "bool")] | None = None  # type: ignore[valid-type]
    order: Literal[BYTE_ORDERS] = "ABCD"  # type: ignore[valid-type]
    topic: str = Field(min_length=1)
    set_topic: str | None = Field(default=None, min_length=1)
    on_change: bool = False
    heartbeat: Duration | None = None
    retain: bool = False
    qos: QoS | None = None
    format: Literal["plain", "json"] | None = None
    unit: str | None = None
    scale: float = Field(default=1.0, allow_inf_nan=False)
    offset: float = Field(default=0.0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _type_fits_table(self) -> PointConfig:
        bits = self.table in BIT_TABLES
        if bits and self.type not in (None, "bool"):
            raise ValueError(f"a {self.table} point is a bool: remove 'type: {self.type}'")
        if not bits and self.type == "bool":
            raise ValueError(f"a {self.table} register point needs a number type, not bool")
        if self.set_topic and self.table in ("input", "discrete"):
            raise ValueError(f"a {self.table} point is read-only: remove its set_topic")
        for topic in (self.topic, self.set_topic):
            if topic is not None and ("+" in topic or "#" in topic):
                raise ValueError(f"topic {topic!r} must not hold the wildcards + or #")
        return self

    @property
    def value_type(self) -> str:
        """The value type, ``bool`` for coils and discrete inputs."""
        if self.type is not None:
            return str(self.type)
        return "bool" if self.table in BIT_TABLES else "uint16"


class BridgeConfig(_Model):
    """One flow between two endpoints: a device polled to a broker, or raw bytes."""

    source: str = Field(alias="from", min_length=1)
    target: str = Field(alias="to", min_length=1)
    poll: Duration = 1.0
    unit: int | None = Field(default=None, ge=0, le=255)
    timeout: Duration | None = None
    retries: int = Field(default=0, ge=0, le=10)
    backoff: Duration = 1.0
    backoff_max: Duration = 30.0
    max_gap: int = Field(default=0, ge=0, le=100)
    points: list[PointConfig] | None = None
    qos: QoS = 0
    retain: bool = False
    format: Literal["plain", "json"] = "plain"
    availability_topic: str | None = Field(default=None, min_length=1)
    topic: str | None = Field(default=None, min_length=1)
    framing: Literal["lines", "length"] = "lines"
    length_bytes: Literal[1, 2, 4] = 4
    max_frame: int = Field(default=65536, ge=1, le=16 * 1024 * 1024)
    queue: int = Field(default=1000, ge=1, le=1_000_000)

    @model_validator(mode="after")
    def _names_unique(self) -> BridgeConfig:
        if self.points is not None:
            if not self.points:
                raise ValueError("points is empty: list at least one point")
            names = [p.name for p in self.points]
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise ValueError(f"point names must be unique in a bridge: {twice}")
        if self.backoff_max < self.backoff:
            raise ValueError("backoff_max must be at least backoff")
        return self


class GatewayConfig(_Model):
    """The whole file."""

    version: Literal[1]
    connections: dict[str, ConnectionConfig] = Field(default_factory=dict)
    bridges: list[BridgeConfig] = Field(min_length=1)

    def endpoint(self, ref: str) -> ConnectionConfig:
        """Return the connection a bridge's ``from`` or ``to`` names (a name or a URL)."""
        if ref in self.connections:
            return self.connections[ref]
        return ConnectionConfig(url=ref)


def scheme(url: str) -> str:
    """Return the scheme of ``url`` in lower case."""
    return url.split("://", 1)[0].lower()


def kind_of(url: str) -> Literal["modbus", "mqtt", "raw"]:
    """Classify an endpoint URL: a Modbus client, an MQTT broker, or a raw byte stream."""
    name = scheme(url)
    if name.startswith("modbus"):
        return "modbus"
    if name in ("mqtt", "mqtts"):
        return "mqtt"
    return "raw"


# -- locating keys in the YAML text ------------------------------------------------


class _Locator:
    """Maps a key path such as ``("bridges", 0, "points", 1, "type")`` to a line."""

    def __init__(self, root: yaml.Node | None) -> None:
        self._root = root

    def line(self, path: Iterable[Any]) -> int:
        node, line = self._root, 1
        if node is not None:
            line = node.start_mark.line + 1
        for key in path:
            if isinstance(node, yaml.MappingNode):
                found = next(((k, v) for k, v in node.value if k.value == str(key)), None)
                if found is None:
                    return line
                line, node = found[0].start_mark.line + 1, found[1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
                if key >= len(node.value):
                    return line
                node = node.value[key]
                line = node.start_mark.line + 1
            else:
                return line
        return line


def _duplicates(node: yaml.Node | None, path: str, out: list[tuple[int, str]]) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = str(key.value)
            if name in seen:
                out.append((key.start_mark.line + 1, f"{path}{name}: key given twice"))
            seen.add(name)
            _duplicates(value, f"{path}{name}.", out)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _duplicates(item, f"{path.rstrip('.')}[{index}].", out)


def _dotted(path: Iterable[Any]) -> str:
    text = ""
    for key in path:
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else str(key))
    return text or "(top level)"


def parse_config(text: str, source: str = "<config>") -> GatewayConfig:
    """Parse and validate a configuration held in a string.

    Args:
        text: The YAML text.
        source: The name used in error messages (usually the file name).

    Returns:
        The validated configuration.

    Raises:
        ConfigError: Listing every problem with its line and key.
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"{source}:{line}: not valid YAML: {problem}"]) from None
    dupes: list[tuple[int, str]] = []
    _duplicates(root, "", dupes)
    if dupes:
        raise ConfigError([f"{source}:{line}: {what}" for line, what in dupes])
    if not isinstance(data, dict):
        raise ConfigError([f"{source}:1: the file must hold a mapping with version and bridges"])
    locator = _Locator(root)
    try:
        config = GatewayConfig.model_validate(data)
    except ValidationError as exc:
        errors = []
        for error in exc.errors(include_url=False):
            loc = [k for k in error["loc"] if not (isinstance(k, str) and "[" in k)]
            errors.append(f"{source}:{locator.line(loc)}: {_dotted(loc)}: {error['msg']}")
        raise ConfigError(errors) from None
    problems = [
        f"{source}:{locator.line(loc)}: {_dotted(loc)}: {msg}" for loc, msg in _check(config)
    ]
    if problems:
        raise ConfigError(problems)
    return config


Problem = tuple[list[Any], str]


def _check(config: GatewayConfig) -> list[Problem]:
    """Cross-checks pydantic cannot see: references, bridge shapes, topics."""
    problems: list[Problem] = []
    for index, bridge in enumerate(config.bridges):
        problems.extend(_bridge_problems(config, index, bridge))
    for name, conn in config.connections.items():
        secrets = _secret_problems(conn)
        problems.extend((["connections", name, k], m) for k, m in secrets)
        if not secrets:
            problems.extend((["connections", name, "url"], m) for m in _url_problems(conn))
    for index, bridge in enumerate(config.bridges):
        for key, ref in (("from", bridge.source), ("to", bridge.target)):
            if "://" in ref and ref not in config.connections:
                problems.extend(
                    (["bridges", index, key], m) for m in _url_problems(ConnectionConfig(url=ref))
                )
    return problems


def _bridge_problems(config: GatewayConfig, index: int, bridge: BridgeConfig) -> list[Problem]:
    """A bridge's ends must exist, and their kinds must make a bridge this gateway runs."""
    here: list[Any] = ["bridges", index]
    problems: list[Problem] = []
    ends = {}
    for key, ref in (("from", bridge.source), ("to", bridge.target)):
        if "://" not in ref and ref not in config.connections:
            known = ", ".join(sorted(config.connections)) or "none"
            problems.append(([*here, key], f"{ref!r} is neither a URL nor a connection ({known})"))
        else:
            ends[key] = kind_of(config.endpoint(ref).url)
    if len(ends) < 2:
        return problems
    shape = (ends["from"], ends["to"])
    if shape == ("modbus", "mqtt"):
        if bridge.points is None:
            problems.append((here, "a Modbus bridge needs points"))
        if bridge.topic is not None:
            problems.append(([*here, "topic"], "a Modbus bridge has topics per point"))
    elif shape in (("raw", "mqtt"), ("mqtt", "raw")):
        if bridge.topic is None:
            problems.append((here, "a raw bridge needs a topic"))
        if bridge.points is not None:
            problems.append(([*here, "points"], "points belong to Modbus bridges"))
    else:
        problems.append(
            (
                here,
                f"cannot bridge {ends['from']} to {ends['to']}: use Modbus -> MQTT, "
                "serial/TCP -> MQTT or MQTT -> serial/TCP",
            )
        )
    return problems


def with_secret(conn: ConnectionConfig) -> str:
    """Return the connection's URL with its password source as a query parameter.

    The URL layer reads the secret (``password_env``/``password_file``) and never shows it.
    """
    for key in ("password_env", "password_file"):
        value = getattr(conn, key)
        if value:
            return f"{conn.url}{'&' if '?' in conn.url else '?'}{key}={value}"
    return conn.url


def _url_problems(conn: ConnectionConfig) -> list[str]:
    """Build the endpoint (nothing is opened) to check its URL and parameters."""
    from eq1_network.plugins import from_url

    try:
        from_url(with_secret(conn))
    except ProtocolError as exc:
        return [str(exc)]
    return []


def _secret_problems(conn: ConnectionConfig) -> list[tuple[str, str]]:
    if conn.password_env and conn.password_env not in os.environ:
        return [("password_env", f"the environment variable {conn.password_env} is not set")]
    if conn.password_file and not os.access(conn.password_file, os.R_OK):
        return [("password_file", f"cannot read the file {conn.password_file}")]
    return []


def load_config(path: str | os.PathLike[str]) -> GatewayConfig:
    """Read, parse and validate a configuration file.

    Args:
        path: The YAML file.

    Returns:
        The validated configuration.

    Raises:
        ConfigError: If the file cannot be read or is not valid.
    """
    name = os.fspath(path)
    try:
        text = Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{name}: cannot read the configuration: {exc}"]) from None
    return parse_config(text, name)

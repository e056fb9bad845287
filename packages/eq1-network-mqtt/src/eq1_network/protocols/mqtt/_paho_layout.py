"""The switch between paho's public API and the speed-ups built on its internals.

The speed-ups (:mod:`._paho_fast`) override private methods of ``paho.mqtt.client.Client``
and read private attributes. paho may rename any of them in a minor release, and the
failure would be a hang or lost acknowledgements rather than an ImportError, so they are
used only when :func:`check_layout` finds the installed paho as they expect: a version
from :data:`SUPPORTED_VERSIONS`, every overridden method with the expected parameters,
and every private attribute with the expected type.

The environment variable :data:`FASTPATH_ENV` chooses the position:

- ``auto`` (the default, also when unset or empty): the speed-ups when the layout check
  passes, paho's public API otherwise (logged once at WARNING, naming what differs);
- ``1``: the speed-ups; a failing layout check raises ``ProtocolConfigurationError``;
- ``0``: paho's public API only (logged once at INFO).
"""

from __future__ import annotations

import collections
import functools
import inspect
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass

import paho.mqtt.client as paho
from paho.mqtt import __version__ as paho_version
from paho.mqtt.enums import CallbackAPIVersion

from eq1_network.common.exceptions import ProtocolConfigurationError
from eq1_network.common.logging import get_logger

__all__ = ["FASTPATH_ENV", "SUPPORTED_VERSIONS", "Layout", "check_layout", "use_fastpath"]

logger = get_logger(__name__)

FASTPATH_ENV = "EQ1_MQTT_PAHO_FASTPATH"
"""Environment variable forcing the position: ``0``, ``1`` or ``auto``."""

SUPPORTED_VERSIONS = ((2, 0), (2, 2))
"""Oldest and newest paho-mqtt minor version whose internals the speed-ups were checked on."""

_SUPPORTED_TEXT = "{}.{} to {}.{}".format(*SUPPORTED_VERSIONS[0], *SUPPORTED_VERSIONS[1])

METHODS: Mapping[str, tuple[str, ...]] = {
    "_create_socket": ("self",),
    "_do_on_publish": ("self", "mid", "reason_code", "properties"),
    "_handle_pubackcomp": ("self", "cmd"),
    "_handle_pubrec": ("self",),
    "_loop_rc_handle": ("self", "rc"),
    "_mid_generate": ("self",),
    "_packet_read": ("self",),
    "_packet_write": ("self",),
    "_update_inflight": ("self",),
    "loop_read": ("self", "max_packets"),
}
"""Methods the speed-ups override, call or feed (``_packet_write`` writes the packets
:meth:`._paho_fast.FastClient.publish_qos0` queues), with their parameter names."""

MODULE_NAMES = (
    "mqtt_ms_resend_pubrel",
    "mqtt_ms_wait_for_puback",
    "mqtt_ms_wait_for_pubrec",
    "mqtt_ms_wait_for_pubcomp",
    "mqtt_ms_wait_for_pubrel",
    "MQTTv5",
)
"""Names the speed-ups read from ``paho.mqtt.client``."""

ATTRIBUTES: Mapping[str, type | tuple[type, ...]] = {
    "_in_packet": dict,
    "_in_messages": dict,
    "_in_message_mutex": type(threading.Lock()),
    "_manual_ack": bool,
    "_msgtime_mutex": type(threading.Lock()),
    "_last_msg_out": float,
    "_out_packet": collections.deque,
    "_sock": type(None),
    "_out_messages": dict,
    "_out_message_mutex": type(threading.RLock()),
    "_protocol": int,
    "_inflight_messages": int,
    "_max_inflight_messages": int,
    "_max_queued_messages": int,
}
"""Private attributes of a new client the speed-ups read, with their types."""

MESSAGE_SLOTS = frozenset(
    {"timestamp", "state", "dup", "mid", "_topic", "payload", "qos", "retain", "info", "properties"}
)
"""The slots of ``paho.mqtt.client.MQTTMessage``, every one of which the speed-ups set for a
QoS 1/2 message they queue."""

IN_PACKET_KEYS = frozenset({"command", "packet"})
"""Keys of ``_in_packet`` the speed-ups read."""

RECEIVED_AT = ("_last_bytes_received", "_last_msg_in")
"""Names of the time input last arrived (paho 2.2; 2.0 and 2.1), one of which is set."""


@dataclass(frozen=True)
class Layout:
    """The result of the layout check.

    Attributes:
        version: The installed paho-mqtt version.
        missing: What differs from the expected layout, or ``None`` when it matches.
    """

    version: str
    missing: str | None

    @property
    def ok(self) -> bool:
        """Whether the speed-ups may be used."""
        return self.missing is None


def _version_problem(version: str) -> str | None:
    parts = tuple(int(p) for p in version.split(".")[:2] if p.isdigit())
    low, high = SUPPORTED_VERSIONS
    if len(parts) == 2 and low <= parts <= high:
        return None
    return f"paho-mqtt {version} is outside the checked versions {_SUPPORTED_TEXT}"


def _method_problem(name: str, params: tuple[str, ...]) -> str | None:
    method = getattr(paho.Client, name, None)
    if not callable(method):
        return f"paho.Client.{name} is missing"
    try:
        found = tuple(inspect.signature(method).parameters)
    except (TypeError, ValueError):
        return f"paho.Client.{name} has no inspectable signature"
    if found != params:
        return f"paho.Client.{name} takes ({', '.join(found)}), expected ({', '.join(params)})"
    return None


def _attribute_problem() -> str | None:
    try:
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id="layout-check")
    except Exception as exc:  # noqa: BLE001 - any failure means an unexpected paho
        return f"a paho.Client could not be built for the check: {exc!r}"
    for name, expected in ATTRIBUTES.items():
        value = getattr(client, name, None)
        if not isinstance(value, expected):
            return f"paho.Client().{name} is {type(value).__name__}, expected {expected}"
    keys = IN_PACKET_KEYS - set(client._in_packet)  # noqa: SLF001 - reads paho's state only to check its layout
    if keys:
        return f"paho.Client()._in_packet lacks {sorted(keys)}"
    if not any(isinstance(getattr(client, name, None), float) for name in RECEIVED_AT):
        return f"paho.Client() has none of {RECEIVED_AT} (when input last arrived)"
    if not callable(getattr(paho, "time_func", None)):
        return "paho.mqtt.client.time_func is missing"
    slots = getattr(paho.MQTTMessage, "__slots__", ())
    if set(slots) != MESSAGE_SLOTS:
        return f"paho.MQTTMessage has the slots {sorted(slots)}, expected {sorted(MESSAGE_SLOTS)}"
    return None


def inspect_layout(version: str) -> Layout:
    """Check the installed paho against what the speed-ups expect (uncached).

    Args:
        version: The version string to judge (normally ``paho.mqtt.__version__``).

    Returns:
        The layout, naming the first difference found.
    """
    problem = _version_problem(version)
    for name in MODULE_NAMES:
        if problem is None and not hasattr(paho, name):
            problem = f"paho.mqtt.client.{name} is missing"
    for name, params in METHODS.items():
        problem = problem or _method_problem(name, params)
    problem = problem or _attribute_problem()
    return Layout(version, problem)


@functools.lru_cache(maxsize=1)
def check_layout() -> Layout:
    """Check the installed paho once per process.

    Returns:
        The (cached) result of :func:`inspect_layout` for the installed version.
    """
    return inspect_layout(paho_version)


@functools.lru_cache(maxsize=8)
def _log_once(level: int, message: str) -> None:
    logger.log(level, "%s", message)


def use_fastpath(setting: str | None = None, layout: Layout | None = None) -> bool:
    """Decide whether the adapter uses the speed-ups.

    Args:
        setting: ``"0"``, ``"1"`` or ``"auto"``; ``None`` reads :data:`FASTPATH_ENV`
            (unset or empty means ``auto``).
        layout: The layout to judge; ``None`` uses :func:`check_layout`.

    Returns:
        ``True`` for the speed-ups, ``False`` for paho's public API only.

    Raises:
        ProtocolConfigurationError: If the setting is not one of the three values, or is
            ``1`` while the installed paho does not match the expected layout.
    """
    raw = os.environ.get(FASTPATH_ENV, "") if setting is None else setting
    value = raw.strip().lower() or "auto"
    if value not in ("0", "1", "auto"):
        raise ProtocolConfigurationError(
            f"{FASTPATH_ENV}={raw!r} is not valid: use 0 (paho's public API only), "
            "1 (the speed-ups, which need a checked paho layout) or auto"
        )
    if value == "0":
        _log_once(logging.INFO, f"{FASTPATH_ENV}=0: using paho-mqtt's public API only")
        return False
    found = layout if layout is not None else check_layout()
    if found.ok:
        return True
    if value == "1":
        raise ProtocolConfigurationError(
            f"{FASTPATH_ENV}=1 needs paho-mqtt internals this version does not have: "
            f"{found.missing}; set {FASTPATH_ENV}=auto or 0, or install paho-mqtt "
            f"{_SUPPORTED_TEXT}"
        )
    _log_once(
        logging.WARNING,
        f"paho-mqtt {found.version}: using its public API only, because {found.missing} "
        f"(set {FASTPATH_ENV}=0 to silence this)",
    )
    return False

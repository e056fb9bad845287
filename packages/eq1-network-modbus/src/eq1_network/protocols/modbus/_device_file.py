"""Device files of ``eq1-network modbus serve``: JSON that describes the units to simulate.

A file is ``{"units": {"1": {...}, ...}}``; each unit takes the keys ``coils``,
``discrete_inputs``, ``holding_registers``, ``input_registers`` (a size or a list of
initial values), ``identification`` (object id -> text), ``server_id`` (text) and
``exception_status`` (0..255), the arguments of
:class:`~eq1_network.protocols.modbus.device.ModbusDevice`. It is read with the
standard library's :mod:`json`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from eq1_network.common.exceptions import ProtocolConfigurationError, ProtocolError
from eq1_network.protocols.modbus.device import ModbusDevice

__all__ = ["UNIT_KEYS", "load_device_file"]

UNIT_KEYS = (
    "coils",
    "discrete_inputs",
    "holding_registers",
    "input_registers",
    "identification",
    "server_id",
    "exception_status",
)
"""The keys a unit of a device file may have."""


def load_device_file(path: str | Path, *, serial: bool) -> dict[int, ModbusDevice]:
    """Read a JSON device file into unit id -> :class:`ModbusDevice`.

    The file is ``{"units": {"1": {...}, ...}}``; each unit takes the keys
    ``coils``, ``discrete_inputs``, ``holding_registers``, ``input_registers`` (a
    size or a list of initial values), ``identification`` (object id -> text),
    ``server_id`` (text) and ``exception_status`` (0..255).

    Args:
        path: The file.
        serial: Unit ids must be 1..247 (a serial line) instead of 0..255.

    Returns:
        The devices by unit id.

    Raises:
        ProtocolConfigurationError: If the file cannot be read, is not JSON, or a key
            is unknown, missing or has a bad value; the message names the key.
    """
    where = f"device file {str(path)!r}"
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProtocolConfigurationError(f"{where}: cannot read it: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolConfigurationError(f"{where}: not valid JSON: {exc}") from None
    _only(data, ("units",), where, "the top level")
    units = data.get("units")
    if not isinstance(units, dict) or not units:
        raise ProtocolConfigurationError(
            f'{where}: "units" must be a non-empty object of unit id -> unit, '
            f'e.g. {{"units": {{"1": {{"holding_registers": 10}}}}}}'
        )
    low, high = (1, 247) if serial else (0, 255)
    devices: dict[int, ModbusDevice] = {}
    for key, unit in units.items():
        unit_id = _id(key, low, high, f"{where}: units.{key}")
        devices[unit_id] = _device(unit, f"{where}: units.{key}")
    return devices


def _only(data: object, keys: Sequence[str], where: str, what: str) -> None:
    if not isinstance(data, dict):
        raise ProtocolConfigurationError(f"{where}: {what} must be a JSON object")
    for key in data:
        if key not in keys:
            raise ProtocolConfigurationError(
                f"{where}: unknown key {key!r} at {what}; valid keys: {', '.join(keys)}"
            )


def _id(key: str, low: int, high: int, where: str) -> int:
    try:
        value = int(key, 0)
    except ValueError:
        value = -1
    if not low <= value <= high:
        raise ProtocolConfigurationError(f"{where}: the id must be an integer {low}..{high}")
    return value


def _device(unit: object, where: str) -> ModbusDevice:
    _only(unit, UNIT_KEYS, where, "this unit")
    assert isinstance(unit, dict)
    kwargs: dict[str, Any] = {}
    for key, value in unit.items():
        if key == "identification":
            kwargs[key] = _identification(value, f"{where}.identification")
        elif key == "server_id":
            if not isinstance(value, str):
                raise ProtocolConfigurationError(f"{where}.server_id must be a string")
            kwargs[key] = value
        else:
            kwargs[key] = _table(key, value, f"{where}.{key}")
    try:
        return ModbusDevice(**kwargs)
    except ProtocolError as exc:
        raise ProtocolConfigurationError(f"{where}: {exc}") from None


def _table(key: str, value: object, where: str) -> int | list[int]:
    def integer(item: object) -> bool:
        return isinstance(item, int) and not (key.endswith("registers") and isinstance(item, bool))

    if integer(value) or (isinstance(value, list) and all(integer(item) for item in value)):
        return value  # type: ignore[return-value]  # checked just above
    if key == "exception_status":
        raise ProtocolConfigurationError(f"{where} must be an integer 0..255, got {value!r}")
    kind = "true/false or 0/1" if key in ("coils", "discrete_inputs") else "integers 0..65535"
    raise ProtocolConfigurationError(
        f"{where} must be a size (an integer) or a list of initial values ({kind}), got {value!r}"
    )


def _identification(value: object, where: str) -> Mapping[int, str]:
    if not isinstance(value, dict):
        raise ProtocolConfigurationError(f"{where} must be an object of object id -> text")
    objects: dict[int, str] = {}
    for key, text in value.items():
        object_id = _id(key, 0, 255, f"{where}.{key}")
        if not isinstance(text, str):
            raise ProtocolConfigurationError(f"{where}.{key} must be a string, got {text!r}")
        objects[object_id] = text
    return objects

"""Check a packet structure given as a class or an instance, and bind its methods."""

from __future__ import annotations

from collections.abc import Callable
from types import FunctionType
from typing import Any, NamedTuple, cast

from eq1_network.common.exceptions import ProtocolConfigurationError, ProtocolTypeError
from eq1_network.interfaces.packet import PacketStructureInterface
from eq1_network.packets.framing import NetworkPacketStructure

__all__ = [
    "BoundStructure",
    "Structure",
    "bind_structure",
    "length_prefix_limit",
    "static_lookup",
]

Structure = PacketStructureInterface | type[PacketStructureInterface]
"""A packet structure, as a class or an instance."""

_METHODS = ("to_packet", "from_packet", "is_valid", "split_packet", "find_packet_end")
_LENGTH_PREFIX_METHODS = ("to_packet", "from_packet", "is_valid", "find_packet_end")


class BoundStructure(NamedTuple):
    """The methods of one packet structure, bound to the object that was given."""

    to_packet: Callable[[bytes], bytes]
    from_packet: Callable[[bytes], bytes]
    is_valid: Callable[[bytes], bool]
    split_packet: Callable[[bytes], list[bytes]]
    find_packet_end: Callable[[bytes | bytearray, int], int]


def static_lookup(cls: type, name: str) -> Any:
    """Find ``name`` in the class dictionaries along the MRO, without binding it.

    Args:
        cls: The class.
        name: The attribute name.

    Returns:
        The raw attribute (function, descriptor, value), or ``None``.
    """
    for klass in cls.__mro__:
        if name in klass.__dict__:
            return klass.__dict__[name]
    return None


def bind_structure(structure: object, name: str = "packet_structure") -> BoundStructure:
    """Check that ``structure`` is a usable packet structure and bind its methods.

    Args:
        structure: A :class:`PacketStructureInterface` subclass or instance. A class
            is accepted when its methods are classmethods or hybrid methods.
        name: Parameter name used in error messages.

    Returns:
        The bound methods.

    Raises:
        ProtocolTypeError: If ``structure`` is not a packet structure.
        ProtocolConfigurationError: If it is a class whose methods need an instance.
    """
    if not isinstance(structure, PacketStructureInterface):
        if not (isinstance(structure, type) and issubclass(structure, PacketStructureInterface)):
            raise ProtocolTypeError(
                f"{name} must be a PacketStructureInterface subclass or instance, got {structure!r}"
            )
        for method in _METHODS:
            if isinstance(static_lookup(structure, method), FunctionType):
                raise ProtocolConfigurationError(
                    f"{structure.__name__}.{method} is an instance method: pass an instance "
                    f"of {structure.__name__} as {name}, not the class"
                )
    bound: Any = structure
    return BoundStructure(
        bound.to_packet,
        bound.from_packet,
        bound.is_valid,
        bound.split_packet,
        bound.find_packet_end,
    )


def length_prefix_limit(structure: object) -> int | None:
    """Tell whether ``structure`` frames exactly like :class:`NetworkPacketStructure`.

    True for the class, its instances, and subclasses that change only
    ``max_payload``; fast paths (stream decoding, one-step typed frames) are used then.

    Args:
        structure: A packet structure class or instance.

    Returns:
        Its payload limit, or ``None`` if it frames differently.
    """
    cls = structure if isinstance(structure, type) else type(structure)
    if not issubclass(cls, NetworkPacketStructure):
        return None
    for name in _LENGTH_PREFIX_METHODS:
        if static_lookup(cls, name) is not NetworkPacketStructure.__dict__[name]:
            return None
    limit: int = cast("NetworkPacketStructure", structure).max_payload
    return limit

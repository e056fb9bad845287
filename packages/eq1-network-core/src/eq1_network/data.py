"""Application data objects: :class:`SendData` and :class:`ReceivedData`."""

from __future__ import annotations

import abc
from typing import TypeVar

__all__ = ["ReceivedData", "SendData"]

_R = TypeVar("_R", bound="ReceivedData")


class SendData(abc.ABC):
    """An object that can be serialised for sending."""

    @abc.abstractmethod
    def to_bytes(self) -> bytes:
        """Serialise the object.

        Returns:
            The payload bytes.
        """


class ReceivedData(abc.ABC):
    """An object rebuilt from received payload bytes."""

    @classmethod
    @abc.abstractmethod
    def from_bytes(cls: type[_R], data: bytes) -> _R:
        """Deserialise payload bytes.

        Args:
            data: The payload bytes.

        Returns:
            A new instance.

        Raises:
            ValueError: If the bytes cannot be decoded.
        """

"""A scripted Modbus link for tests: reads come from a list, sent frames are kept."""

from __future__ import annotations

import time
from collections.abc import Callable

from eq1_network.interfaces.protocol import ReqResProtocol

Read = bytes | None | Callable[[list[bytes]], bytes | None] | BaseException
"""One scripted read: bytes, a silence, a callable of the frames sent, or an error."""


class ScriptLink(ReqResProtocol):
    """A link whose reads come from a script.

    Each read takes the next entry: bytes are returned, ``None`` is a silence of the
    asked length, a callable gets the frames sent so far and returns the read, an
    exception is raised. An empty script is silence.
    """

    def __init__(self, reads: list[Read] | None = None) -> None:
        self.reads: list[Read] = reads or []
        self.sent: list[bytes] = []
        self.waits: list[float] = []

    def connect(self) -> bool:
        return True

    def disconnect(self) -> None:
        pass

    def is_connected(self) -> bool:
        return True

    def _send_raw(self, data: bytes) -> int:
        self.sent.append(data)
        return len(data)

    def _read_raw(self) -> bytes | None:
        return None

    def _read_within_raw(self, timeout: float) -> bytes | None:
        self.waits.append(timeout)
        item = self.reads.pop(0) if self.reads else None
        if isinstance(item, BaseException):
            raise item
        if callable(item):
            return item(self.sent)
        if item is None:
            time.sleep(max(min(timeout, 0.02), 0.0))
        return item

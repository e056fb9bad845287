"""Interfaces: abstractness, context-manager behaviour and defaults."""

from __future__ import annotations

import pytest

from eq1_network import (
    BaseProtocol,
    CompletedPublish,
    PacketStructureInterface,
    ProtocolConnectionError,
    PublishHandle,
    PubSubProtocol,
    ReceivedData,
    ReqResProtocol,
    SendData,
)
from eq1_network.interfaces.protocol import has_readiness_wait
from eq1_network.protocols.loopback.reqres import LoopbackProtocol


class _Refusing(ReqResProtocol):
    def __init__(self) -> None:
        self.disconnects = 0

    def connect(self) -> bool:
        return False

    def disconnect(self) -> None:
        self.disconnects += 1

    def is_connected(self) -> bool:
        return False

    def send(self, data: bytes) -> int:
        return 0

    def read(self) -> tuple[bool, bytes | None]:
        return False, None


@pytest.mark.parametrize(
    "cls", [BaseProtocol, ReqResProtocol, PubSubProtocol, PacketStructureInterface, SendData]
)
def test_interfaces_are_abstract(cls: type) -> None:
    with pytest.raises(TypeError):
        cls()


def test_received_data_needs_from_bytes() -> None:
    class Incomplete(ReceivedData):
        pass

    with pytest.raises(TypeError):
        Incomplete()


def test_context_manager_raises_when_connect_fails() -> None:
    proto = _Refusing()
    with pytest.raises(ProtocolConnectionError, match="connect\\(\\) failed"):
        with proto:
            pass


def test_default_wait_readable_returns_true() -> None:
    proto = _Refusing()
    assert proto.wait_readable(0.001) is True
    assert proto.wait_readable(None) is True
    assert proto.timeout is None


def test_has_readiness_wait_tells_real_waits_from_the_sleeping_default() -> None:
    assert has_readiness_wait(_Refusing()) is False
    assert has_readiness_wait(LoopbackProtocol()) is True


def test_completed_publish_is_a_publish_handle() -> None:
    handle = CompletedPublish()
    assert isinstance(handle, PublishHandle)
    assert handle.wait(0) is True and handle.is_published() is True

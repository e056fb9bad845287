"""Raise sites use the taxonomy: the caller's mistakes are local, a peer's oversize is remote."""

from __future__ import annotations

import pytest

from eq1_network.common.exceptions import (
    FrameTooLargeError,
    ProtocolArgumentError,
    ProtocolUsageError,
    RemoteProtocolError,
)
from eq1_network.common.topics import validate_topic, validate_topic_filter
from eq1_network.protocols.loopback.reqres import LoopbackProtocol


@pytest.mark.parametrize("check", [validate_topic, validate_topic_filter])
def test_a_bad_topic_is_the_callers_mistake(check: object) -> None:
    with pytest.raises(ProtocolArgumentError) as caught:
        check("")  # type: ignore[operator]
    assert isinstance(caught.value, ProtocolUsageError)
    assert not isinstance(caught.value, RemoteProtocolError)


def test_an_answer_over_max_bytes_is_the_peers_doing() -> None:
    near, far = LoopbackProtocol.pair(timeout=5.0)
    near.connect()
    far.connect()
    try:
        far.send(b"x" * 64)
        with pytest.raises(FrameTooLargeError) as caught:
            near.read_until(b"\n", max_bytes=16, timeout=5.0)
        assert isinstance(caught.value, RemoteProtocolError)
        assert not isinstance(caught.value, ProtocolUsageError)
        with pytest.raises(ProtocolArgumentError):
            near.read_until(b"", timeout=1.0)
    finally:
        near.disconnect()
        far.disconnect()

"""ReqResProtocol's template methods: send/read check and map, transports implement hooks."""

from __future__ import annotations

import warnings
from collections import deque

import pytest

from eq1_network import ReqResProtocol
from eq1_network.common.exceptions import (
    ProtocolConnectionError,
    ProtocolNotConnectedError,
    ProtocolTimeoutError,
    ProtocolTypeError,
)
from eq1_network.interfaces.protocol import has_readiness_wait


class _Hooked(ReqResProtocol):
    """A transport written against the hooks: it records what they were given."""

    def __init__(self) -> None:
        self.connected = False
        self.sent: list[object] = []
        self.chunks: deque[bytes] = deque()
        self.send_error: BaseException | None = None
        self.read_error: BaseException | None = None

    def connect(self) -> bool:
        self.connected = True
        return True

    def disconnect(self) -> None:
        self.connected = False

    def is_connected(self) -> bool:
        return self.connected

    def _send_raw(self, data: bytes) -> int:
        if self.send_error is not None:
            raise self.send_error
        self.sent.append(data)
        return len(data)

    def _read_raw(self) -> bytes | None:
        if self.read_error is not None:
            raise self.read_error
        return self.chunks.popleft() if self.chunks else None


def _connected() -> _Hooked:
    proto = _Hooked()
    proto.connect()
    return proto


def test_send_rejects_text_before_the_hook() -> None:
    proto = _connected()
    with pytest.raises(ProtocolTypeError, match="send\\(\\) needs bytes, got str; encode text"):
        proto.send("text")  # type: ignore[arg-type]
    assert proto.sent == []


@pytest.mark.parametrize("data", [bytearray(b"abc"), memoryview(b"abc")])
def test_send_hands_the_hook_bytes(data: bytes) -> None:
    proto = _connected()
    assert proto.send(data) == 3
    assert proto.sent == [b"abc"]
    assert type(proto.sent[0]) is bytes


def test_send_before_connect_raises_not_connected_without_calling_the_hook() -> None:
    proto = _Hooked()
    with pytest.raises(ProtocolNotConnectedError, match="call connect\\(\\) first"):
        proto.send(b"x")
    assert proto.sent == []


def test_an_os_error_from_the_send_hook_becomes_a_connection_error() -> None:
    proto = _connected()
    cause = BrokenPipeError(32, "Broken pipe")
    proto.send_error = cause
    with pytest.raises(ProtocolConnectionError, match="Broken pipe") as info:
        proto.send(b"x")
    assert info.value.__cause__ is cause
    assert not isinstance(info.value, ProtocolNotConnectedError)


def test_library_errors_from_the_hook_pass_through_unchanged() -> None:
    proto = _connected()
    error = ProtocolTimeoutError("write_timeout passed")
    proto.send_error = error
    with pytest.raises(ProtocolTimeoutError) as info:
        proto.send(b"x")
    assert info.value is error


def test_an_os_error_from_the_read_hook_becomes_a_connection_error() -> None:
    proto = _connected()
    cause = ConnectionResetError(104, "Connection reset by peer")
    proto.read_error = cause
    with pytest.raises(ProtocolConnectionError, match="reset") as info:
        proto.read()
    assert info.value.__cause__ is cause
    with pytest.raises(ProtocolConnectionError):
        proto.read_within(0)


def test_read_wraps_what_the_hook_returns() -> None:
    proto = _connected()
    assert proto.read() == (False, None)
    proto.chunks.extend([b"", b"data"])
    assert proto.read() == (False, None)
    assert proto.read() == (True, b"data")


def test_the_base_read_serves_the_pushback_buffer_without_wrapping() -> None:
    assert "read" not in _Hooked.__dict__
    assert _Hooked.read is ReqResProtocol.read
    proto = _connected()
    proto.chunks.append(b"one\ntwo\nrest")
    assert proto.read_until(b"\n", timeout=1) == b"one\n"
    assert proto.wait_readable(0) is True
    assert proto.read_within(0) == b"two\nrest"
    proto.chunks.append(b"a\nb")
    assert proto.read_until(timeout=1) == b"a\n"
    assert proto.read() == (True, b"b")
    assert proto.read() == (False, None)


def test_query_sends_through_the_template() -> None:
    proto = _connected()
    proto.chunks.append(b"pong\r\n")
    assert proto.query(b"ping\r\n", until=b"\r\n", timeout=1) == b"pong\r\n"
    assert proto.sent == [b"ping\r\n"]
    with pytest.raises(ProtocolTypeError):
        proto.query("ping", timeout=1)  # type: ignore[arg-type]


def test_a_class_without_hooks_or_overrides_is_abstract() -> None:
    class Incomplete(ReqResProtocol):
        def connect(self) -> bool:
            return True

        def disconnect(self) -> None:
            pass

        def is_connected(self) -> bool:
            return True

    with pytest.raises(TypeError, match="_read_raw"):
        Incomplete()  # type: ignore[abstract]


def test_readiness_wait_is_detected_through_the_hook() -> None:
    class Waiting(_Hooked):
        def _wait_readable_raw(self, timeout: float | None) -> bool:
            return bool(self.chunks)

    assert has_readiness_wait(Waiting()) is True
    assert has_readiness_wait(_Hooked()) is False


def _legacy_class() -> type[ReqResProtocol]:
    class Legacy(ReqResProtocol):
        def __init__(self) -> None:
            self.chunks: deque[bytes] = deque()
            self.sent: list[object] = []

        def connect(self) -> bool:
            return True

        def disconnect(self) -> None:
            pass

        def is_connected(self) -> bool:
            return True

        def send(self, data: bytes) -> int:
            self.sent.append(data)
            return len(data)

        def read(self) -> tuple[bool, bytes | None]:
            return (True, self.chunks.popleft()) if self.chunks else (False, None)

    return Legacy


def test_overriding_send_and_read_is_deprecated_but_works() -> None:
    with pytest.warns(DeprecationWarning, match="implement _send_raw\\(\\) and _read_raw\\(\\)"):
        legacy = _legacy_class()
    proto = legacy()
    proto.send("text")  # type: ignore[arg-type]  # its own send: no base check
    assert proto.sent == ["text"]  # type: ignore[attr-defined]
    proto.chunks.append(b"x\ny")  # type: ignore[attr-defined]
    assert proto.read_until(timeout=1) == b"x\n"
    assert proto.read() == (True, b"y")  # the wrapped read serves the pushback buffer


def test_library_classes_and_wrapping_subclasses_do_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")

        class FirstParty(_Hooked):
            __module__ = "eq1_network.protocols.example"

            def send(self, data: bytes) -> int:
                return super().send(data)

        class Logging(_Hooked):
            def send(self, data: bytes) -> int:  # wraps the template; hooks inherited
                return super().send(data)

    proto = Logging()
    proto.connect()
    with pytest.raises(ProtocolTypeError):
        proto.send("text")  # type: ignore[arg-type]
    assert FirstParty().read() == (False, None)


def test_context_manager_reports_a_false_connect_by_raising() -> None:
    class Refusing(_Hooked):
        def connect(self) -> bool:
            return False

    with pytest.raises(ProtocolConnectionError, match="connect\\(\\) failed"), Refusing():
        pass

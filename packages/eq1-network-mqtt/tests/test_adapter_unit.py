"""The paho adapter with paho's client class replaced by a mock."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from eq1_network.common.exceptions import (
    ProtocolConfigurationError,
    ProtocolConnectionError,
    ProtocolError,
    ProtocolTimeoutError,
)
from eq1_network.protocols.mqtt import _adapter, _adapter_parts, _paho_fast
from eq1_network.protocols.mqtt._adapter import PahoAdapter, PublishStatus, ServerLimits, Will
from eq1_network.protocols.mqtt.config import BrokerConfig, ClientConfig
from eq1_network.protocols.mqtt.reason_codes import Reason


@pytest.fixture
def client_cls() -> Iterator[mock.MagicMock]:
    cls = mock.MagicMock()
    cls.return_value.socket.return_value = None
    with (
        mock.patch.object(_adapter, "FastClient", cls),
        mock.patch.object(_adapter, "PublicClient", cls),
    ):
        yield cls


def build(
    broker: BrokerConfig | None = None, fastpath: str | None = None, **config: Any
) -> tuple[PahoAdapter, mock.Mock]:
    listener = mock.Mock()
    adapter = PahoAdapter(
        broker or BrokerConfig(), ClientConfig(**config), "cid", listener, fastpath=fastpath
    )
    return adapter, listener


def test_client_is_built_from_the_configuration(client_cls: mock.MagicMock) -> None:
    adapter, _ = build(
        BrokerConfig("h", 1884, username="u", password="p", connect_timeout=3.0),
        client_id="cid",
        clean_session=False,
        max_inflight=7,
        max_queued_messages=10,
    )
    args, kwargs = client_cls.call_args
    assert args == (CallbackAPIVersion.VERSION2,)
    assert kwargs == {
        "client_id": "cid",
        "clean_session": False,
        "protocol": paho.MQTTv311,
        "reconnect_on_failure": False,
    }
    client = client_cls.return_value
    client.max_inflight_messages_set.assert_called_once_with(0)  # the window is ours
    client.max_queued_messages_set.assert_called_once_with(0)
    client.username_pw_set.assert_called_once_with("u", "p")
    client.tls_set_context.assert_not_called()
    client.will_clear.assert_called_once()
    assert client.connect_timeout == 3.0
    adapter.close()


def test_mqtt5_connect_sends_session_expiry_and_user_properties(
    client_cls: mock.MagicMock,
) -> None:
    adapter, _ = build(
        protocol_version=5, client_id="c", clean_session=False, user_properties=[("a", "b")]
    )
    assert client_cls.call_args.kwargs["clean_session"] is None
    assert client_cls.call_args.kwargs["protocol"] == paho.MQTTv5
    adapter.connect()
    args, kwargs = client_cls.return_value.connect.call_args
    assert args == ("localhost", 1883, 60)
    assert kwargs["clean_start"] is False
    assert kwargs["properties"].SessionExpiryInterval == 0xFFFFFFFF
    assert kwargs["properties"].UserProperty == [("a", "b")]
    adapter.close()


def test_mqtt31_protocol_level(client_cls: mock.MagicMock) -> None:
    build(protocol_version=3)[0].close()
    assert client_cls.call_args.kwargs["protocol"] == paho.MQTTv31


def test_tls_context(client_cls: mock.MagicMock, tmp_path: Path) -> None:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    cert = ca.issue_cert("client.invalid")
    cert_file, key_file = tmp_path / "c.pem", tmp_path / "c.key"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    broker = BrokerConfig(
        ca_certs=str(ca_file), certfile=str(cert_file), keyfile=str(key_file), tls_insecure=True
    )
    build(broker)[0].close()
    client = client_cls.return_value
    context = client.tls_set_context.call_args.args[0]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname is False
    client.tls_insecure_set.assert_called_once_with(True)


def test_unusable_tls_files_raise_configuration_error(
    client_cls: mock.MagicMock, tmp_path: Path
) -> None:
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("not a certificate")
    with pytest.raises(ProtocolConfigurationError, match="TLS files"):
        build(BrokerConfig(ca_certs=str(bogus)))


def test_will(client_cls: mock.MagicMock) -> None:
    adapter, _ = build()
    adapter.set_will(Will("t", b"p", 1, True))
    client_cls.return_value.will_set.assert_called_once_with("t", b"p", 1, True)
    adapter.close()


@pytest.mark.parametrize(
    ("rc", "qos", "status"),
    [
        (MQTTErrorCode.MQTT_ERR_SUCCESS, 0, PublishStatus.SENT),
        (MQTTErrorCode.MQTT_ERR_SUCCESS, 1, PublishStatus.SENT),
        (MQTTErrorCode.MQTT_ERR_NO_CONN, 1, PublishStatus.KEPT),
        (MQTTErrorCode.MQTT_ERR_NO_CONN, 0, PublishStatus.NOT_CONNECTED),
    ],
)
def test_publish_status(
    client_cls: mock.MagicMock, rc: MQTTErrorCode, qos: int, status: PublishStatus
) -> None:
    adapter, _ = build(fastpath="0")  # paho's publish(); the fast client's QoS 0: below
    client_cls.return_value.publish.return_value = SimpleNamespace(rc=rc, mid=42)
    got_status, mid, report = adapter.publish("t", b"p", qos, False)
    assert (got_status, mid) == (status, 42)
    assert (report is not None) == (status is PublishStatus.SENT and qos == 0)
    client_cls.return_value.publish.assert_called_once_with("t", b"p", qos, False, None)
    adapter.close()


def test_qos0_write_report() -> None:
    written = paho.MQTTMessageInfo(1)
    written.rc = MQTTErrorCode.MQTT_ERR_SUCCESS
    report = _adapter_parts.WriteReport(written)
    assert not report.done() and report.wait(0.01) is False
    written._set_as_published()
    assert report.done() and report.wait(None) and report.error() is None
    lost = paho.MQTTMessageInfo(2)
    lost.rc = MQTTErrorCode.MQTT_ERR_CONN_LOST
    lost._set_as_published()
    failed = _adapter_parts.WriteReport(lost)
    assert failed.wait(1) and isinstance(failed.error(), ProtocolConnectionError)


def test_acknowledgements_bypass_on_publish(client_cls: mock.MagicMock) -> None:
    adapter, listener = build()
    client = client_cls.return_value
    assert client.ack_listener == adapter._on_ack
    adapter._on_ack([5, 6], ReasonCode(PacketTypes.PUBACK))
    listener.on_publish_results.assert_called_once_with([5, 6], Reason(0), 1)
    adapter.close()


def test_client_reports_acks_and_keeps_paho_bookkeeping() -> None:
    client = _paho_fast.FastClient(CallbackAPIVersion.VERSION2, client_id="x")
    seen: list[int] = []
    client.ack_listener = lambda mids, reason: seen.extend(mids)
    info = client.publish("t", b"p", qos=1)  # not connected: kept by paho
    assert client._do_on_publish(info.mid, ReasonCode(PacketTypes.PUBACK), None) == 0
    assert seen == [info.mid] and info.mid not in client._out_messages
    client.ack_listener = lambda mids, reason: 1 / 0  # a failing handler is logged
    other = client.publish("t", b"p", qos=1)
    client._do_on_publish(other.mid, ReasonCode(PacketTypes.PUBACK), None)
    assert other.mid not in client._out_messages


def test_publish_other_error(client_cls: mock.MagicMock) -> None:
    adapter, _ = build()
    client_cls.return_value.publish_acknowledged.return_value = None  # paho's publish() decides
    client_cls.return_value.publish.return_value = SimpleNamespace(
        rc=MQTTErrorCode.MQTT_ERR_QUEUE_SIZE, mid=1
    )
    with pytest.raises(ProtocolError, match="refused to publish"):
        adapter.publish("t", b"p", 1, False)
    adapter.close()


def test_mqtt5_publish_and_subscribe_properties(client_cls: mock.MagicMock) -> None:
    adapter, _ = build(protocol_version=5)
    client = client_cls.return_value
    client.publish.return_value = SimpleNamespace(rc=MQTTErrorCode.MQTT_ERR_SUCCESS, mid=1)
    adapter.publish("t", b"p", 1, True, 30, [("k", "v")])
    props = client.publish.call_args.args[4]
    assert props.MessageExpiryInterval == 30 and props.UserProperty == [("k", "v")]
    client.subscribe.return_value = (MQTTErrorCode.MQTT_ERR_SUCCESS, 9)
    assert adapter.subscribe("a/#", 2, 17) == 9
    kwargs = client.subscribe.call_args.kwargs
    assert kwargs["options"].QoS == 2 and kwargs["properties"].SubscriptionIdentifier == [17]
    adapter.close()


def test_subscribe_and_unsubscribe_mqtt311(client_cls: mock.MagicMock) -> None:
    adapter, _ = build()
    client = client_cls.return_value
    client.subscribe.return_value = (MQTTErrorCode.MQTT_ERR_SUCCESS, 3)
    assert adapter.subscribe("a/#", 1, 5) == 3
    client.subscribe.assert_called_once_with("a/#", 1)
    client.subscribe.return_value = (MQTTErrorCode.MQTT_ERR_NO_CONN, None)
    assert adapter.subscribe("a/#", 1, None) is None
    client.unsubscribe.return_value = (MQTTErrorCode.MQTT_ERR_SUCCESS, 4)
    assert adapter.unsubscribe("a/#") == 4
    client.unsubscribe.return_value = (MQTTErrorCode.MQTT_ERR_NO_CONN, None)
    assert adapter.unsubscribe("a/#") is None
    adapter.close()


# -- callbacks -------------------------------------------------------------------------


def connack_reason(name: str) -> ReasonCode:
    return ReasonCode(PacketTypes.CONNACK, name)


@pytest.mark.parametrize(
    ("name", "code"), [("Success", 0), ("Bad user name or password", 4), ("Not authorized", 5)]
)
def test_mqtt311_connack_codes_are_restored(
    client_cls: mock.MagicMock, name: str, code: int
) -> None:
    adapter, listener = build()
    adapter._on_connect(
        None, None, SimpleNamespace(session_present=True), connack_reason(name), None
    )  # type: ignore[arg-type]
    listener.on_connack.assert_called_once_with(Reason(code, v5=False), True, ServerLimits())
    adapter.close()


def test_unexpected_mqtt311_connack_keeps_the_v5_code(client_cls: mock.MagicMock) -> None:
    adapter, listener = build()
    flags = SimpleNamespace(session_present=False)
    adapter._on_connect(None, None, flags, connack_reason("Unspecified error"), None)  # type: ignore[arg-type]
    assert listener.on_connack.call_args.args[0] == Reason(0x80)
    adapter.close()


def test_mqtt5_connack_limits(client_cls: mock.MagicMock) -> None:
    adapter, listener = build(protocol_version=5)
    props = Properties(PacketTypes.CONNACK)  # type: ignore[no-untyped-call]
    props.ReceiveMaximum = 20
    props.SubscriptionIdentifierAvailable = 0
    flags = SimpleNamespace(session_present=False)
    adapter._on_connect(None, None, flags, ReasonCode(PacketTypes.CONNACK, identifier=0x87), props)  # type: ignore[arg-type]
    listener.on_connack.assert_called_once_with(
        Reason(0x87), False, ServerLimits(receive_maximum=20, subscription_identifiers=False)
    )
    adapter.close()


def test_disconnect_callback(client_cls: mock.MagicMock) -> None:
    adapter, listener = build(protocol_version=5)
    reason = ReasonCode(PacketTypes.DISCONNECT, identifier=0x8E)
    adapter._on_disconnect(
        None, None, SimpleNamespace(is_disconnect_packet_from_server=True), reason, None
    )  # type: ignore[arg-type]
    adapter._on_disconnect(
        None, None, SimpleNamespace(is_disconnect_packet_from_server=False), reason, None
    )  # type: ignore[arg-type]
    assert listener.on_connection_closed.call_args_list == [
        mock.call(Reason(0x8E)),
        mock.call(None),
    ]
    adapter.close()


def test_message_callback(client_cls: mock.MagicMock, caplog: pytest.LogCaptureFixture) -> None:
    adapter, listener = build(protocol_version=5)
    message = paho.MQTTMessage(1, b"a/b")
    message.payload = b"data"
    message.properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    message.properties.SubscriptionIdentifier = 4
    message.qos, message.retain = 1, True
    adapter._on_message(None, None, message)  # type: ignore[arg-type]
    listener.on_message.assert_called_once_with("a/b", b"data", (4,), (1, True, message.properties))
    bad = paho.MQTTMessage(2, b"\xff\xfe")
    adapter._on_message(None, None, bad)  # type: ignore[arg-type]
    assert listener.on_message.call_count == 1 and "not valid UTF-8" in caplog.text
    adapter.close()


def test_ack_callbacks(client_cls: mock.MagicMock) -> None:
    adapter, listener = build()
    granted = [
        ReasonCode(PacketTypes.SUBACK, identifier=1),
        ReasonCode(PacketTypes.SUBACK, identifier=0x80),
    ]
    adapter._on_subscribe(None, None, 6, granted, None)  # type: ignore[arg-type]
    listener.on_subscribe_result.assert_called_once_with(6, [Reason(1), Reason(0x80)])
    adapter._on_unsubscribe(None, None, 7, ReasonCode(PacketTypes.UNSUBACK), None)  # type: ignore[arg-type]
    listener.on_unsubscribe_result.assert_called_once_with(7, [Reason(0)])
    adapter.close()


# -- socket errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raised", "error", "text"),
    [
        (ConnectionRefusedError(), ProtocolConnectionError, "refused the TCP connection"),
        (socket.gaierror("no such host"), ProtocolConnectionError, "cannot resolve"),
        (TimeoutError(), ProtocolTimeoutError, "timed out"),
        (ssl.SSLError("handshake"), ProtocolConnectionError, "TLS handshake"),
        (OSError("unreachable"), ProtocolConnectionError, "cannot connect"),
        (ValueError("bad port"), ProtocolConfigurationError, "invalid connection settings"),
    ],
)
def test_socket_errors_are_mapped(
    client_cls: mock.MagicMock, raised: Exception, error: type[Exception], text: str
) -> None:
    adapter, _ = build()
    client_cls.return_value.connect.side_effect = raised
    client_cls.return_value.reconnect.side_effect = raised
    with pytest.raises(error, match=text):
        adapter.connect()
    with pytest.raises(error, match=text):
        adapter.reconnect()
    adapter.close()


def test_certificate_verification_error_is_mapped(client_cls: mock.MagicMock) -> None:
    adapter, _ = build()
    failure = ssl.SSLCertVerificationError("verify failed")
    failure.verify_message = "unable to get local issuer certificate"
    client_cls.return_value.connect.side_effect = failure
    with pytest.raises(ProtocolConnectionError, match="local issuer"):
        adapter.connect()
    adapter.close()


def test_loop_without_a_socket_reports_no_connection(client_cls: mock.MagicMock) -> None:
    adapter, _ = build()
    assert adapter.loop(0.01) is False
    adapter.wake()
    adapter.wake()  # a second wake while one is pending writes nothing more
    adapter.close()


# -- the buffered socket ---------------------------------------------------------------


def test_buffered_socket_reads_in_chunks_and_coalesces_writes() -> None:
    left, right = socket.socketpair()
    try:
        wrapped = _paho_fast.BufferedSocket(left)
        right.sendall(b"abcdef")
        assert wrapped.recv(1) == b"a"
        assert wrapped.buffered() == 5 and wrapped.pending() == 5
        assert wrapped.recv(10) == b"bcdef"
        assert wrapped.send(b"12") == 2 and wrapped.send(b"34") == 2
        assert wrapped.has_output()
        wrapped.flush()
        assert not wrapped.has_output()
        assert right.recv(10) == b"1234"
        assert wrapped.fileno() == left.fileno()
        wrapped.send(b"bye")
        wrapped.close()  # flushes what is left
        assert right.recv(10) == b"bye"
        assert right.recv(10) == b""
    finally:
        right.close()


def test_buffered_socket_remembers_a_broken_connection() -> None:
    left, right = socket.socketpair()
    wrapped = _paho_fast.BufferedSocket(left)
    right.close()
    assert wrapped.recv(1) == b""
    wrapped.send(b"x" * 100_000)
    for _ in range(10):
        wrapped.flush()
    with pytest.raises(OSError):
        wrapped.recv(1)
    with pytest.raises(OSError):
        wrapped.send(b"more")
    wrapped.close()

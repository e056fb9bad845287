"""The switch between paho's public API and the speed-ups built on its internals."""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any
from unittest import mock

import paho.mqtt.client as paho
import pytest
from mqtt_test_fakes import LostSessionBroker
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from eq1_network import ReconnectPolicy
from eq1_network.common.exceptions import ProtocolConfigurationError, ProtocolConnectionError
from eq1_network.protocols.mqtt import _adapter, _paho_layout
from eq1_network.protocols.mqtt._adapter import PahoAdapter
from eq1_network.protocols.mqtt._adapter_parts import PublicClient
from eq1_network.protocols.mqtt._paho_fast import FastClient
from eq1_network.protocols.mqtt._paho_layout import FASTPATH_ENV, Layout, use_fastpath
from eq1_network.protocols.mqtt.config import BrokerConfig, ClientConfig
from eq1_network.protocols.mqtt.mqtt_protocol import MQTTProtocol

BROKEN = Layout("2.9.0", "paho.Client._handle_pubrec is missing")


@pytest.fixture(autouse=True)
def fresh_log_once() -> Iterator[None]:
    _paho_layout._log_once.cache_clear()
    yield
    _paho_layout._log_once.cache_clear()


def current() -> Layout:
    return _paho_layout.inspect_layout(_paho_layout.paho_version)


# -- the layout check ------------------------------------------------------------------


def test_the_installed_paho_has_the_expected_layout() -> None:
    layout = _paho_layout.check_layout()
    assert layout.ok, layout.missing
    assert layout == current()


@pytest.mark.parametrize("version", ["1.6.1", "2.3.0", "3.0.0", "dev"])
def test_versions_outside_the_checked_range_are_refused(version: str) -> None:
    layout = _paho_layout.inspect_layout(version)
    assert not layout.ok and f"paho-mqtt {version} is outside" in str(layout.missing)


def test_a_missing_private_method_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(paho.Client, "_handle_pubrec")
    assert current().missing == "paho.Client._handle_pubrec is missing"


def test_a_changed_signature_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    def renamed(self: Any, mid: int, reason: Any, props: Any) -> int:
        return 0

    monkeypatch.setattr(paho.Client, "_do_on_publish", renamed)
    assert "paho.Client._do_on_publish takes (self, mid, reason, props)" in str(current().missing)


def test_a_missing_module_name_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(paho, "mqtt_ms_resend_pubrel")
    assert current().missing == "paho.mqtt.client.mqtt_ms_resend_pubrel is missing"


def test_a_private_attribute_of_another_type_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    original = paho.Client.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self._out_messages = []

    monkeypatch.setattr(paho.Client, "__init__", init)
    assert "paho.Client()._out_messages is list" in str(current().missing)


def test_a_renamed_read_state_key_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    original = paho.Client.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self._in_packet["body"] = self._in_packet.pop("packet")

    monkeypatch.setattr(paho.Client, "__init__", init)
    assert current().missing == "paho.Client()._in_packet lacks ['packet']"


def test_a_message_record_with_other_slots_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    slots = (*paho.MQTTMessage.__slots__, "expiry")
    monkeypatch.setattr(paho.MQTTMessage, "__slots__", slots)
    assert "paho.MQTTMessage has the slots" in str(current().missing)
    assert "'expiry'" in str(current().missing)


# -- the switch ------------------------------------------------------------------------


def test_auto_uses_the_speed_ups_when_the_layout_matches(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger=_paho_layout.__name__):
        assert use_fastpath("auto", Layout("2.2.0", None))
        assert use_fastpath("", Layout("2.2.0", None))
    assert not caplog.records


def test_auto_falls_back_and_logs_the_reason_once(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger=_paho_layout.__name__):
        assert not use_fastpath("auto", BROKEN)
        assert not use_fastpath("auto", BROKEN)
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "paho.Client._handle_pubrec is missing" in record.getMessage()
    assert "public API" in record.getMessage()


def test_forcing_the_public_api(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger=_paho_layout.__name__):
        assert not use_fastpath("0", Layout("2.2.0", None))
    [record] = caplog.records
    assert record.levelno == logging.INFO and f"{FASTPATH_ENV}=0" in record.getMessage()


def test_forcing_the_speed_ups() -> None:
    assert use_fastpath("1", Layout("2.2.0", None))
    with pytest.raises(ProtocolConfigurationError, match=f"{FASTPATH_ENV}=1 needs") as info:
        use_fastpath("1", BROKEN)
    assert "_handle_pubrec is missing" in str(info.value) and "auto or 0" in str(info.value)


def test_an_invalid_setting_is_refused() -> None:
    with pytest.raises(ProtocolConfigurationError, match=f"{FASTPATH_ENV}='yes' is not valid"):
        use_fastpath("yes")


@pytest.mark.parametrize(("value", "fast"), [("0", False), ("1", True), ("auto", True)])
def test_the_adapter_reads_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str, fast: bool
) -> None:
    monkeypatch.setenv(FASTPATH_ENV, value)
    adapter = PahoAdapter(BrokerConfig(), ClientConfig(), "cid", mock.Mock())
    try:
        assert adapter.fastpath is fast
        assert type(adapter._client) is (FastClient if fast else PublicClient)
    finally:
        adapter.close()


def test_the_adapter_falls_back_on_an_unexpected_layout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_paho_layout, "check_layout", lambda: BROKEN)
    adapter = PahoAdapter(BrokerConfig(), ClientConfig(), "cid", mock.Mock(), fastpath="auto")
    try:
        assert not adapter.fastpath and type(adapter._client) is PublicClient
    finally:
        adapter.close()
    with pytest.raises(ProtocolConfigurationError, match=FASTPATH_ENV):
        PahoAdapter(BrokerConfig(), ClientConfig(), "cid", mock.Mock(), fastpath="1")


@pytest.mark.parametrize("fastpath", ["0", "1"])
def test_the_loop_lets_paho_write_every_round(fastpath: str) -> None:
    cls = mock.MagicMock()
    with (
        mock.patch.object(_adapter, "FastClient", cls),
        mock.patch.object(_adapter, "PublicClient", cls),
    ):
        adapter = PahoAdapter(BrokerConfig(), ClientConfig(), "cid", mock.Mock(), fastpath=fastpath)
        client = cls.return_value
        client.socket.return_value = adapter._wake_w  # any socket select() accepts
        client.want_write.return_value = False
        adapter.loop(0)
        client.loop_write.assert_called_once()  # clears paho's "write registered" flag
        adapter.close()


# -- the public position ---------------------------------------------------------------


def test_public_client_reports_acknowledgements_not_qos0_writes() -> None:
    client = PublicClient(CallbackAPIVersion.VERSION2, client_id="x")
    seen: list[int] = []
    client.ack_listener = lambda mids, reason: seen.extend(mids)
    ack = ReasonCode(PacketTypes.PUBACK)
    client.on_publish(client, None, 3, ack, None)  # from loop_read: an acknowledgement
    client.in_loop_write = True
    client.on_publish(client, None, 4, ack, None)  # from loop_write: a QoS 0 write
    client.in_loop_write = False
    client.ack_listener = lambda mids, reason: 1 / 0  # a failing handler is logged
    client.on_publish(client, None, 5, ack, None)
    assert seen == [3]
    assert client.loop_write() is not None and client.in_loop_write is False


def test_public_client_cannot_tell_which_qos2_flows_passed_pubrec() -> None:
    client = PublicClient(CallbackAPIVersion.VERSION2, client_id="x")
    client.publish("t", b"p", qos=2)
    assert client.lost_qos2_mids() is None


# -- paho's session state in the fast position -----------------------------------------


def kept_qos2_client(cls: type[paho.Client], protocol: Any = paho.MQTTv311) -> tuple[Any, int]:
    client = cls(CallbackAPIVersion.VERSION2, client_id="x", protocol=protocol)
    info = client.publish("t", b"p", qos=2)  # not connected: kept by paho
    return client, info.mid


def receive(client: Any, body: bytes) -> None:
    """Leave ``body`` in paho's read state, as its reader does before dispatching."""
    client._in_packet.update(packet=bytearray(body), remaining_length=len(body))


def test_fast_client_reads_the_qos2_flows_paho_finishes_with_pubrel() -> None:
    client = FastClient(CallbackAPIVersion.VERSION2, client_id="x", clean_session=False)
    mid = client.publish("t", b"p", qos=2).mid
    other = client.publish("t", b"p", qos=2).mid
    receive(client, struct.pack("!H", mid))
    client._handle_pubrec()  # PUBREC seen before the loss
    client._messages_reconnect_reset_out()  # what paho does on reconnection
    assert client.lost_qos2_mids() == [mid]
    assert client._out_messages[mid].state == paho.mqtt_ms_resend_pubrel  # left to paho
    assert client._out_messages[other].state == paho.mqtt_ms_publish


@pytest.mark.parametrize("fastpath", ["0", "1"])
@pytest.mark.parametrize("clean_session", [False, True])
def test_connack_without_a_session_reports_the_lost_qos2_flows(
    fastpath: str, clean_session: bool
) -> None:
    listener = mock.Mock()
    config = ClientConfig(clean_session=clean_session, client_id="cid")
    adapter = PahoAdapter(BrokerConfig(), config, "cid", listener, fastpath=fastpath)
    try:
        client = adapter._client
        client.ack_listener = lambda mids, reason: None
        mid = client.publish("t", b"p", qos=2).mid
        receive(client, struct.pack("!H", mid))
        client._handle_pubrec()
        client._messages_reconnect_reset_out()
        accepted = ReasonCode(PacketTypes.CONNACK, "Success")
        adapter._on_connect(client, None, SimpleNamespace(session_present=True), accepted, None)
        listener.on_session_lost.assert_not_called()  # the broker knows it
        adapter._on_connect(client, None, SimpleNamespace(session_present=False), accepted, None)
        if clean_session:  # paho restarts it from PUBLISH itself
            listener.on_session_lost.assert_not_called()
        else:  # the public position cannot tell which: every QoS 2 in flight counts
            expected = [mid] if fastpath == "1" else None
            listener.on_session_lost.assert_called_once_with(expected)
    finally:
        adapter.close()


@pytest.mark.parametrize("cls", [FastClient, PublicClient])
def test_mqtt5_pubrec_with_a_failure_code(cls: type[paho.Client]) -> None:
    client, mid = kept_qos2_client(cls, paho.MQTTv5)
    seen: list[tuple[int, int]] = []
    client.ack_listener = lambda mids, reason: seen.extend((m, int(reason.value)) for m in mids)
    receive(client, struct.pack("!HB", mid, 0x97))
    client._handle_pubrec()
    if cls is FastClient:  # the publish fails with the broker's reason
        assert seen == [(mid, 0x97)] and mid not in client._out_messages
    else:  # paho's own handling: it answers PUBREL and waits for PUBCOMP
        assert seen == [] and client._out_messages[mid].state == paho.mqtt_ms_wait_for_pubcomp


def test_mqtt5_pubrec_success_continues_the_flow() -> None:
    client, mid = kept_qos2_client(FastClient, paho.MQTTv5)
    receive(client, struct.pack("!HB", mid, 0x00))
    client._handle_pubrec()
    assert client._out_messages[mid].state == paho.mqtt_ms_wait_for_pubcomp


@pytest.mark.parametrize("fastpath", ["0", "1"])
def test_a_qos2_publish_the_broker_lost_fails_and_stays_failed(
    fastpath: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(FASTPATH_ENV, fastpath)
    broker = LostSessionBroker()
    config = ClientConfig(
        client_id="lost-session",
        clean_session=False,
        reconnect=ReconnectPolicy(initial_delay=0.05, max_delay=0.5),
    )
    client = MQTTProtocol(BrokerConfig("127.0.0.1", broker.port), config)
    try:
        assert client.connect()
        lost = client.publish("t/lost", b"accepted, then lost", qos=2)
        with pytest.raises(ProtocolConnectionError, match="without the session") as info:
            lost.wait(30)
        assert "delivered is unknown" in str(info.value)
        assert "clean_session=False" in str(info.value)
        # The PUBCOMP answering paho's resent PUBREL arrives before the next message's.
        after = client.publish("t/after", b"on the new session", qos=2)
        assert after.wait(30)
        assert broker.connections == 2 and len(broker.pubcomps) == 2
        assert not lost.is_published() and lost.exception() is info.value
    finally:
        client.disconnect()
        broker.close()

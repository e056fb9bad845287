"""Delivery through broker limits and broker failures (the faults session).

Every broker here is a mosquitto with stock settings: one listener, anonymous access, and
only the lines a scenario needs (persistence, a limit under test). "Acknowledged but
lost" means a handle reported success and the subscriber never received the message.

The subscriber keeps up by construction: the publisher never runs more than
``MAX_LAG`` messages ahead of it. A stock mosquitto queues at most 1000 messages for a
subscriber (``max_queued_messages``) and drops further ones with the log line "Outgoing
messages are being dropped"; the tests check that line is absent, so a loss can never be
blamed on a slow subscriber.
"""

from __future__ import annotations

import re
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from mqtt_test_brokers import StockMosquitto
from mqtt_test_delivery import Outcomes, Receiver, settle, stock_mosquitto

from eq1_network import ReconnectPolicy
from eq1_network.protocols.mqtt.mqtt_protocol import MQTTProtocol, MQTTPublishHandle

MAX_LAG = 600
BATCH = 200
SETTLE = 120.0
DROPPED = "Outgoing messages are being dropped"
RESTART_WINDOW = 50
"""Publisher window across a broker restart. The window may be resent twice: to the
stopping broker, which can still accept the reconnection and take messages before it
exits, and to its successor. MAX_LAG + BATCH + 2 * 50 + the subscriber's 20 in flight
stays under the stock broker's 1000 queued messages per client."""


@pytest.fixture
def topic() -> str:
    return f"eq1-faults/{uuid.uuid4().hex[:12]}"


class PacedPublisher:
    """Publishes numbered messages in a thread, never more than ``MAX_LAG`` ahead."""

    def __init__(self, client: MQTTProtocol, receiver: Receiver, topic: str, qos: int) -> None:
        self.handles: dict[int, MQTTPublishHandle] = {}
        self.errors: list[BaseException] = []
        self._client, self._receiver, self._topic, self._qos = client, receiver, topic, qos
        self._thread: threading.Thread | None = None

    def start(self, count: int) -> PacedPublisher:
        self._thread = threading.Thread(target=self._run, args=(count,), daemon=True)
        self._thread.start()
        return self

    def _run(self, count: int) -> None:
        try:
            for start in range(0, count, BATCH):
                deadline = time.monotonic() + SETTLE
                while (
                    start - len(self._receiver.unique()) > MAX_LAG and time.monotonic() < deadline
                ):
                    self._receiver.wait_count(start - MAX_LAG, 1.0)
                for n in range(start, min(count, start + BATCH)):
                    payload = str(n).encode()
                    self.handles[n] = self._client.publish(self._topic, payload, qos=self._qos)
        except BaseException as exc:  # reported by join()
            self.errors.append(exc)

    def join(self) -> None:
        assert self._thread is not None
        self._thread.join(SETTLE)
        assert not self._thread.is_alive(), "the publisher did not finish"
        assert not self.errors, self.errors


def connections_of(broker: StockMosquitto, client_id: str, after: int = 0) -> int:
    """Count the broker's "New client connected" lines for a client id, from a log offset."""
    return len(
        re.findall(
            rf"New client connected from \S+ as {re.escape(client_id)} ", broker.log_text()[after:]
        )
    )


def check_delivery(outcomes: Outcomes, receiver: Receiver) -> set[int]:
    """Wait for every acknowledged number; return the ones acknowledged but lost."""
    assert not outcomes.pending, f"{len(outcomes.pending)} handles still pending"
    return receiver.wait_for(outcomes.ok, SETTLE, idle=20.0)


# -- stock limits -------------------------------------------------------------------------


@pytest.fixture
def stock() -> Iterator[StockMosquitto]:
    broker = stock_mosquitto()
    yield broker
    broker.close()


@pytest.mark.timeout(600)
@pytest.mark.parametrize(("version", "qos"), [(4, 1), (4, 2), (5, 1), (5, 2)])
def test_twenty_thousand_messages_on_a_stock_broker(
    stock: StockMosquitto, make_client: Any, topic: str, version: int, qos: int
) -> None:
    count = 20_000
    receiver = Receiver()
    sub = make_client(stock.port, protocol_version=version)
    sub.connect()
    sub.subscribe(topic, receiver, qos=2)
    pub = make_client(stock.port, protocol_version=version)
    pub.connect()
    publisher = PacedPublisher(pub, receiver, topic, qos).start(count)
    publisher.join()
    outcomes = settle(publisher.handles, SETTLE)
    assert not outcomes.failed
    lost = check_delivery(outcomes, receiver)
    assert DROPPED not in stock.log_text()
    assert not lost, f"{len(lost)} of {count} acknowledged but lost, first {min(lost)}"
    assert len(outcomes.ok) == count


# -- restarts with persistence -------------------------------------------------------------


def persistent_pair(
    broker: StockMosquitto,
    make_client: Any,
    topic: str,
    version: int,
    pub_session: bool = True,
    **pub_options: Any,
) -> tuple[MQTTProtocol, MQTTProtocol, Receiver, str]:
    tag = uuid.uuid4().hex[:8]
    session: dict[str, Any] = {"clean_session": False, "protocol_version": version}
    if version == 5:
        session["session_expiry"] = 600
    receiver = Receiver()
    sub = make_client(broker.port, client_id=f"sub-{tag}", **session)
    sub.subscribe(topic, receiver, qos=2)  # before connect(): queued messages find it
    sub.connect()
    pub_id = f"pub-{tag}"
    pub_config = session if pub_session else {"protocol_version": version}
    pub = make_client(broker.port, client_id=pub_id, **pub_config, **pub_options)
    pub.connect()
    return pub, sub, receiver, pub_id


@pytest.fixture
def persistent() -> Iterator[StockMosquitto]:
    # Only the persistence lines are added; autosave is an hour away, so the tests
    # decide when the broker saves (SIGUSR1) or it saves when stopped (SIGTERM).
    broker = stock_mosquitto(
        "persistence true", "persistence_location {folder}/", "autosave_interval 3600"
    )
    yield broker
    broker.close()


@pytest.mark.timeout(400)
@pytest.mark.parametrize(("version", "qos"), [(4, 1), (4, 2), (5, 2)])
def test_graceful_restart_delivers_every_acknowledged_message(
    persistent: StockMosquitto, make_client: Any, topic: str, version: int, qos: int
) -> None:
    count = 4000
    # After the restart the publisher resends every QoS 1 message still in flight, and
    # such a resend is a new message to the broker: the subscriber's queue then holds the
    # saved messages (at most MAX_LAG + BATCH ahead of it) plus the resent ones. A QoS 1
    # window of RESTART_WINDOW (the automatic one is 1000; QoS 2's is 16) keeps that under
    # the stock max_queued_messages, which the subscriber may reconnect too late to empty.
    window = {"max_inflight": RESTART_WINDOW} if qos == 1 else {}
    pub, _sub, receiver, _ = persistent_pair(persistent, make_client, topic, version, **window)
    publisher = PacedPublisher(pub, receiver, topic, qos).start(count)
    assert receiver.wait_count(count // 3, SETTLE)
    persistent.stop()  # SIGTERM: mosquitto saves its sessions
    persistent.start()
    publisher.join()
    outcomes = settle(publisher.handles, SETTLE)
    assert not outcomes.failed
    lost = check_delivery(outcomes, receiver)
    assert DROPPED not in persistent.log_text(), "the broker's queue limit dropped messages"
    assert not lost, f"{len(lost)} acknowledged but lost, first {min(lost)}"
    assert len(outcomes.ok) == count


@pytest.mark.timeout(400)
@pytest.mark.parametrize(
    ("version", "qos", "pub_session"),
    [(4, 1, True), (4, 2, True), (5, 2, True), (4, 2, False), (5, 2, False)],
)
def test_killed_broker_loses_only_what_it_acknowledged_after_its_last_save(
    persistent: StockMosquitto,
    make_client: Any,
    topic: str,
    version: int,
    qos: int,
    pub_session: bool,
) -> None:
    """kill -9 after a save made on demand (SIGUSR1; autosave is one hour away).

    Every handle that had succeeded before SIGUSR1 was sent was acknowledged before the
    save, so it is in the saved database; only handles that succeeded later may be lost.
    """
    count = 4000
    pub, _sub, receiver, pub_id = persistent_pair(
        persistent, make_client, topic, version, pub_session
    )
    publisher = PacedPublisher(pub, receiver, topic, qos).start(count)
    assert receiver.wait_count(count // 3, SETTLE)
    before_save = {n for n, h in list(publisher.handles.items()) if h.is_published()}
    persistent.signal(signal.SIGUSR1)
    deadline = time.monotonic() + SETTLE
    while "Saving in-memory database" not in persistent.log_text():
        assert time.monotonic() < deadline, "mosquitto did not save on SIGUSR1"
        receiver.wait_count(count, 0.05)
    assert receiver.wait_count(len(before_save) + 300, SETTLE)  # more traffic after the save
    persistent.kill()
    restarted_at = len(persistent.log_text())
    persistent.start()
    publisher.join()
    outcomes = settle(publisher.handles, SETTLE)
    refused = {n: e for n, e in outcomes.failed.items() if getattr(e, "reason_code", 0) == 0x97}
    assert outcomes.failed == refused, "a handle failed for another reason than a quota"
    assert not refused or (version == 5 and pub_session)
    lost = check_delivery(outcomes, receiver)
    assert not lost & before_save, f"lost although saved: {sorted(lost & before_save)[:10]}"
    reconnects = connections_of(persistent, pub_id, restarted_at)
    assert 1 <= reconnects <= 5, f"{reconnects} publisher connections after the restart"
    print(
        f"kill -9 (MQTT {version}, QoS {qos}, publisher session {pub_session}): "
        f"{len(outcomes.ok)} acknowledged, {len(before_save)} before the save, {len(lost)} "
        f"lost (all acknowledged after it), {len(refused)} refused, {reconnects} reconnections"
    )


# -- a broker that drops the client right after CONNACK --------------------------------------


@pytest.mark.timeout(300)
def test_a_broker_dropping_the_client_after_connack_is_backed_off(
    make_client: Any, topic: str
) -> None:
    """mosquitto with ``max_queued_messages 0`` drops a client that exceeds its QoS 2 quota.

    A window the broker cannot take (``max_inflight=200``) makes every connection end
    right after CONNACK. Each such connection counts as a failed attempt: the backoff
    grows, the client gives up after ``max_reconnect_attempts`` and every handle fails
    instead of staying pending.
    """
    broker = stock_mosquitto("max_queued_messages 0")
    try:
        pub_id = f"pub-{uuid.uuid4().hex[:8]}"
        pub = make_client(
            broker.port,
            client_id=pub_id,
            max_inflight=200,
            reconnect=ReconnectPolicy(initial_delay=0.2, max_delay=2.0, max_attempts=5),
        )
        pub.connect()
        handles = {n: pub.publish(topic, str(n).encode(), qos=2) for n in range(2000)}
        outcomes = settle(handles, SETTLE)
        assert not outcomes.pending
        assert outcomes.failed, "the broker took the whole window after all"
        connections = connections_of(broker, pub_id)
        assert connections <= 6, f"{connections} connections: the client did not back off"
    finally:
        broker.close()

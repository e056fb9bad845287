"""The connection lifecycle of one client: open, close, and react to session events.

:class:`Connection` is the only part that changes the shared :class:`ClientState`. It
opens a :class:`Session` on ``connect()``, tears it down on ``disconnect()`` or after a
failure, and implements :class:`SessionEvents`: on CONNACK it has the subscriptions
restored and goes live (flushing the offline queue) once their SUBACKs arrived; on a loss
it waits for the reconnection; when reconnection is given up it fails what was accepted.
"""

from __future__ import annotations

import threading
import time

from eq1_network.common.exceptions import (
    ProtocolConnectionError,
    ProtocolError,
    ProtocolNotConnectedError,
    ProtocolTimeoutError,
)
from eq1_network.common.logging import get_logger
from eq1_network.protocols.mqtt._adapter import Will
from eq1_network.protocols.mqtt._publisher import Publisher
from eq1_network.protocols.mqtt._session import AdapterFactory, RestoreState, Session
from eq1_network.protocols.mqtt._state import ClientState, State
from eq1_network.protocols.mqtt._subscriptions import Subscriptions
from eq1_network.protocols.mqtt._tracking import PublishTracker
from eq1_network.protocols.mqtt._window import default_window
from eq1_network.protocols.mqtt.config import MQTT_V5, BrokerConfig, ClientConfig
from eq1_network.protocols.mqtt.reason_codes import Reason

__all__ = ["Connection"]

logger = get_logger(__name__)

_TEARDOWN_GRACE = 2.0
_THREAD_JOIN_MARGIN = 5.0


class Connection:
    """Opens and closes the connection of one client and follows its sessions.

    Args:
        owner: The protocol, named in messages.
        shared: The client's connection state.
        broker: Broker configuration.
        config: Client configuration.
        client_id: The client identifier.
        tracker: The client's publish tracker.
        publisher: The client's publishing side.
        subscriptions: The client's subscriptions.

    Attributes:
        session_present: The broker's Session Present flag at the last CONNACK.
    """

    def __init__(
        self,
        owner: object,
        shared: ClientState,
        broker: BrokerConfig,
        config: ClientConfig,
        client_id: str,
        tracker: PublishTracker,
        publisher: Publisher,
        subscriptions: Subscriptions,
    ) -> None:
        self._owner = owner
        self._shared = shared
        self._broker = broker
        self._config = config
        self._client_id = client_id
        self._tracker = tracker
        self._publisher = publisher
        self._subscriptions = subscriptions
        self._op_lock = threading.Lock()  # one connect/disconnect at a time
        self._closed = False  # disconnect() ended the last connection: run() returns at once
        self._will: Will | None = None
        self.session_present = False

    # -- caller's thread -------------------------------------------------------------

    def connect(self, adapter_factory: AdapterFactory) -> bool:
        """Connect, or wait for a reconnection under way (see ``MQTTProtocol.connect``).

        Args:
            adapter_factory: The adapter class for a new session.

        Returns:
            ``True``.
        """
        with self._op_lock:
            shared = self._shared
            with shared.lock:
                state = shared.state
            if state is State.CONNECTED:
                return True
            if state is State.RECONNECTING:
                if self.wait_until_connected(self._broker.connect_timeout):
                    return True
                raise ProtocolTimeoutError(
                    f"{self._owner!r}: still reconnecting after {self._broker.connect_timeout} s"
                )
            if shared.session is not None:
                self._teardown(
                    shared.session,
                    shared.failure or ProtocolNotConnectedError("the previous connection failed"),
                    graceful=False,
                )
            self._closed = False
            return self._open(adapter_factory)

    def _open(self, adapter_factory: AdapterFactory) -> bool:
        session = Session(
            self,
            self._broker,
            self._config,
            self._client_id,
            self._will,
            self._tracker,
            self._subscriptions.route,
            adapter_factory,
        )
        shared = self._shared
        with shared.lock:
            shared.state = State.CONNECTING
            shared.failure = None
            shared.session = session
        session.dispatcher.start()
        try:
            session.adapter.connect()
        except Exception as exc:
            cause = exc if isinstance(exc, ProtocolError) else ProtocolConnectionError(str(exc))
            self._teardown(session, cause, graceful=False)
            raise
        session.supervisor.start()
        with shared.cond:
            shared.cond.wait_for(
                lambda: shared.state is not State.CONNECTING,
                self._broker.connect_timeout + self._config.ack_timeout + _THREAD_JOIN_MARGIN,
            )
            state, failure = shared.state, shared.failure
        if state in (State.CONNECTED, State.RECONNECTING):
            logger.info("%r connected", self._owner)
            return True
        error = failure or ProtocolTimeoutError(
            f"{self._owner!r}: no CONNACK within {self._broker.connect_timeout} s"
        )
        self._teardown(session, error, graceful=False)
        raise error

    def disconnect(self) -> None:
        """Disconnect cleanly after draining (see ``MQTTProtocol.disconnect``)."""
        with self._op_lock:
            shared = self._shared
            with shared.lock:
                session = shared.session
                if session is None:
                    return
                was_connected = shared.state is State.CONNECTED
                shared.state = State.CLOSING
                self._closed = True  # seen by run() as soon as the session is gone
            if was_connected and not self._tracker.wait_drained(self._config.drain_timeout):
                logger.warning(
                    "%r: %d publishes still unacknowledged after drain_timeout=%s s",
                    self._owner,
                    self._tracker.unacknowledged(),
                    self._config.drain_timeout,
                )
            error = ProtocolNotConnectedError(
                f"{self._owner!r}: disconnect() was called before the message was delivered"
            )
            self._teardown(session, error, graceful=was_connected)
            logger.info("%r disconnected", self._owner)

    def _teardown(self, session: Session, error: ProtocolError, graceful: bool) -> None:
        supervisor = session.supervisor
        if graceful:
            session.adapter.disconnect()
        supervisor.request_stop(_TEARDOWN_GRACE if graceful else 0.0)
        joined = supervisor.join(self._broker.connect_timeout + _THREAD_JOIN_MARGIN)
        if joined:
            session.adapter.close()
        else:
            logger.warning("%r: the network thread did not stop in time", self._owner)
        shared = self._shared
        with shared.lock:
            queued, waiting = self._publisher.take_unsent(session)
            if shared.session is session:
                shared.session = None
                shared.state = State.IDLE
            shared.cond.notify_all()
        self._publisher.fail_unsent(queued, waiting, error)
        failed = self._tracker.fail_all(error) + len(queued) + len(waiting)
        if failed:
            logger.warning(
                "%r: %d accepted publishes were not delivered: %s", self._owner, failed, error
            )
        session.subacks.fail_all()
        session.unsubacks.fail_all()
        if joined:
            session.flush_messages()
        session.dispatcher.stop(_THREAD_JOIN_MARGIN)

    def wait_until_connected(self, timeout: float) -> bool:
        """Wait until the connection is up, closed or given up.

        Args:
            timeout: Longest wait in seconds.

        Returns:
            ``True`` if connected.
        """
        shared = self._shared
        with shared.cond:
            return shared.cond.wait_for(
                lambda: shared.state in (State.CONNECTED, State.IDLE, State.FAILED), timeout
            ) and (shared.state is State.CONNECTED)

    def run(self, timeout: float | None) -> None:
        """Block until closed, ``timeout`` or Ctrl-C (see ``MQTTProtocol.run_forever``).

        Args:
            timeout: Longest wait in seconds; ``None`` waits until closed.
        """
        shared = self._shared
        with shared.lock:
            if shared.session is None:
                if self._closed:  # disconnect() came first (a stop message, say): done
                    return
                raise ProtocolNotConnectedError(
                    f"{self._owner!r}: run_forever() needs a connection; call connect() first"
                )
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                with shared.cond:
                    if shared.session is None:
                        return
                    if shared.state is State.FAILED and shared.failure is not None:
                        raise shared.failure
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        return
                    shared.cond.wait(0.5 if left is None else min(0.5, left))
        except KeyboardInterrupt:
            logger.info("%r: interrupted; disconnecting", self._owner)
            self.disconnect()

    def apply_will(self, will: Will | None) -> None:
        """Use ``will`` from the next connection on.

        Args:
            will: The Will, or ``None`` for none.
        """
        with self._shared.lock:
            self._will = will
            session = self._shared.session
        if session is not None:
            session.adapter.set_will(will)

    # -- SessionEvents (network thread) ----------------------------------------------

    def session_connected(self, session: Session, session_present: bool) -> None:
        """Restore the subscriptions; go live now or once their SUBACKs arrived.

        Args:
            session: The session whose connection was accepted.
            session_present: The broker's Session Present flag.
        """
        shared = self._shared
        with shared.lock:
            if shared.session is not session or shared.state is State.CLOSING:
                return
            self.session_present = session_present
            session.window.set_limits(
                default_window(
                    self._config.max_inflight,
                    self._config.protocol_version == MQTT_V5,
                    session.limits.receive_maximum,
                )
            )
            waiters = self._subscriptions.restore(session, session_present)
            if waiters:
                session.restore = RestoreState(waiters, time.monotonic() + self._config.ack_timeout)
            else:
                self._go_live(session)
        logger.info(
            "%r: connection accepted (session present: %s, restoring %d subscriptions)",
            self._owner,
            session_present,
            len(waiters),
        )

    def restore_progress(self, session: Session) -> None:
        """Go live once the restored subscriptions are acknowledged or timed out.

        Args:
            session: The session restoring its subscriptions.
        """
        restore = session.restore
        if restore is None or not restore.finished():
            return
        session.restore = None
        if restore.timed_out():
            logger.warning(
                "%r: restored subscriptions not all acknowledged within ack_timeout=%s s; going on",
                self._owner,
                self._config.ack_timeout,
            )
        shared = self._shared
        with shared.lock:
            if shared.session is session and shared.state in (
                State.CONNECTING,
                State.RECONNECTING,
            ):
                self._subscriptions.send_unconfirmed(session, skip=restore.filters)
                self._go_live(session)

    def _go_live(self, session: Session) -> None:
        """Flush the offline queue and mark the connection usable (state lock held)."""
        self._publisher.flush_offline(session)
        self._shared.state = State.CONNECTED
        self._shared.cond.notify_all()

    def session_lost(self, session: Session, reason: Reason | None) -> None:
        """Wait for the reconnection the supervisor makes.

        Args:
            session: The session whose connection dropped.
            reason: The broker's DISCONNECT reason, if it sent one.
        """
        shared = self._shared
        with shared.lock:
            if shared.session is not session or shared.state is State.CLOSING:
                return
            session.restore = None
            shared.state = State.RECONNECTING
            shared.cond.notify_all()
        detail = f" ({reason})" if reason is not None else ""
        logger.warning("%r: connection lost%s; reconnecting", self._owner, detail)

    def session_failed(self, session: Session, error: ProtocolError) -> None:
        """Record why the supervisor gave up and fail every accepted publish.

        Args:
            session: The session given up.
            error: Why.
        """
        shared = self._shared
        with shared.lock:
            if shared.session is not session or shared.state is State.CLOSING:
                return
            initial = shared.state is State.CONNECTING
            shared.state = State.FAILED
            shared.failure = error
            queued, waiting = self._publisher.take_unsent(session)
            shared.cond.notify_all()
        if initial:
            logger.debug("%r: connect failed: %s", self._owner, error)
        else:
            logger.error(
                "%r: gave up reconnecting (%d queued, %d unacknowledged publishes fail): %s",
                self._owner,
                len(queued),
                self._tracker.unacknowledged(),
                error,
            )
        self._publisher.fail_unsent(queued, waiting, error)
        self._tracker.fail_all(error)

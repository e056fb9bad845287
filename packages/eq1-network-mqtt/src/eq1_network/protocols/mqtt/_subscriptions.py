"""Subscriptions: SUBSCRIBE/UNSUBSCRIBE, their restore after CONNACK, and routing.

:class:`Subscriptions` keeps the client's :class:`SubscriptionRegistry` (``_registry``)
in step with the broker: it sends SUBSCRIBE and UNSUBSCRIBE and awaits their
acknowledgements, re-sends after CONNACK what the broker lacks, and looks up the
callbacks of each received message for the dispatcher, unsubscribing filters that a
resumed session kept at the broker and that nobody registered any more.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from eq1_network.common.exceptions import ProtocolTimeoutError
from eq1_network.common.logging import get_logger
from eq1_network.interfaces.protocol import MessageCallback
from eq1_network.protocols.mqtt._registry import Route, SubscriptionRegistry
from eq1_network.protocols.mqtt._state import ClientState
from eq1_network.protocols.mqtt._tracking import AckWaiter
from eq1_network.protocols.mqtt.config import MQTT_V5, ClientConfig
from eq1_network.protocols.mqtt.reason_codes import Reason, refusal_error

if TYPE_CHECKING:
    from eq1_network.protocols.mqtt._session import Session

__all__ = ["Subscriptions"]

logger = get_logger(__name__)

_GUESS_LEVELS = 4
_STALE_LIMIT = 1000


class Subscriptions:
    """The subscriptions of one client and their state at the broker.

    Args:
        owner: The protocol, named in messages.
        shared: The client's connection state.
        config: Client configuration.
    """

    def __init__(self, owner: object, shared: ClientState, config: ClientConfig) -> None:
        self._owner = owner
        self._shared = shared
        self._config = config
        self._lock = threading.Lock()  # one subscribe/unsubscribe at a time
        self._registry = SubscriptionRegistry()
        self._use_sub_ids = False
        self._resumed = False
        self._stale_sent: set[str] = set()

    def snapshot(self) -> dict[str, list[MessageCallback]]:
        """Return a copy of the registered subscriptions: filter -> callbacks."""
        return self._registry.subscriptions()

    # -- subscribe / unsubscribe (caller's thread) -----------------------------------

    def subscribe(self, topic: str, callback: MessageCallback, qos: int | None) -> None:
        """Register a checked subscription and, if connected, await its SUBACK.

        Args:
            topic: A valid topic filter.
            callback: A callable.
            qos: 0, 1, 2, or ``None`` for ``ClientConfig.subscribe_qos``.
        """
        wanted = self._config.subscribe_qos if qos is None else qos
        with self._lock:
            with self._shared.lock:
                added = self._registry.add(topic, callback, wanted)
                waiter = None
                if added.send:
                    waiter = self._send_subscribe(topic, added.qos, added.subscription_id)
            if waiter is None:
                return
            try:
                reasons = waiter.wait(self._config.ack_timeout, f"SUBSCRIBE to {topic!r}")
            except ProtocolTimeoutError:
                self._drop_callback(topic, callback)
                raise
            if reasons is None:
                return
            reason = reasons[0] if reasons else Reason(0x80)
            if reason.is_failure:
                self._drop_callback(topic, callback)
                raise refusal_error(reason, f"SUBSCRIBE to {topic!r}")
            self._registry.set_confirmed(topic, added.subscription_id, True)

    def _send_subscribe(self, topic: str, qos: int, sub_id: int) -> AckWaiter | None:
        """Send SUBSCRIBE if connected (state lock held); return the SUBACK waiter."""
        session = self._shared.live_session()
        if session is None:
            return None
        mid = session.adapter.subscribe(topic, qos, sub_id if self._use_sub_ids else None)
        return None if mid is None else session.subacks.expect(mid)

    def _drop_callback(self, topic: str, callback: MessageCallback) -> None:
        with self._shared.lock:
            gone = self._registry.remove(topic, callback)
            session = self._shared.live_session()
            if gone and session is not None:
                self._send_unsubscribe_nowait(session, topic)

    def unsubscribe(self, topic: str, callback: MessageCallback) -> None:
        """Remove a callback; UNSUBSCRIBE when the filter's last one goes.

        Args:
            topic: The filter it was subscribed with.
            callback: The callback.
        """
        with self._lock:
            with self._shared.lock:
                gone = self._registry.remove(topic, callback)
                if not gone:
                    return
                waiter = None
                session = self._shared.live_session()
                if session is not None:
                    mid = session.adapter.unsubscribe(topic)
                    waiter = None if mid is None else session.unsubacks.expect(mid)
                if waiter is None and not self._config.clean_session:
                    self._registry.note_offline_removal(topic)
            if waiter is None:
                return
            reasons = waiter.wait(self._config.ack_timeout, f"UNSUBSCRIBE from {topic!r}")
            for reason in reasons or ():
                if reason.is_failure:
                    raise refusal_error(reason, f"UNSUBSCRIBE from {topic!r}")

    # -- after CONNACK (network thread, state lock held) -----------------------------

    def restore(self, session: Session, session_present: bool) -> list[tuple[str, AckWaiter]]:
        """Bring the broker's subscriptions in line with the registry after CONNACK.

        Sends the UNSUBSCRIBEs recorded while offline and a SUBSCRIBE for every filter
        the broker lacks (state lock held).

        Args:
            session: The session whose connection was accepted.
            session_present: The broker's Session Present flag.

        Returns:
            ``(filter, waiter)`` per SUBSCRIBE sent.
        """
        self._resumed = session_present and not self._config.clean_session
        self._stale_sent = set()
        self._use_sub_ids = (
            self._config.protocol_version == MQTT_V5 and session.limits.subscription_identifiers
        )
        if not session_present:
            self._registry.forget_confirmations()
        for topic_filter in self._registry.take_offline_removals():
            self._send_unsubscribe_nowait(session, topic_filter)
        return self.send_unconfirmed(session)

    def send_unconfirmed(
        self, session: Session, skip: frozenset[str] = frozenset()
    ) -> list[tuple[str, AckWaiter]]:
        """SUBSCRIBE every filter the broker lacks (state lock held).

        Args:
            session: The live or restoring session.
            skip: Filters already sent during this restore.

        Returns:
            ``(filter, waiter)`` per SUBSCRIBE sent.
        """
        waiters: list[tuple[str, AckWaiter]] = []
        for state in self._registry.snapshot():
            if state.confirmed or state.topic_filter in skip:
                continue
            sub_id = state.subscription_id if self._use_sub_ids else None
            mid = session.adapter.subscribe(state.topic_filter, state.qos, sub_id)
            if mid is None:
                continue
            waiter = AckWaiter()
            session.subacks.then(
                mid, _RestoreAck(self._registry, state.topic_filter, state.subscription_id, waiter)
            )
            waiters.append((state.topic_filter, waiter))
        return waiters

    def _send_unsubscribe_nowait(self, session: Session, topic_filter: str) -> None:
        mid = session.adapter.unsubscribe(topic_filter)
        if mid is not None:
            session.unsubacks.then(mid, _ignore_ack)

    # -- routing (dispatcher thread) -------------------------------------------------

    def route(self, topic: str, subscription_ids: tuple[int, ...]) -> tuple[MessageCallback, ...]:
        """Return the callbacks of a received message; remove stale broker subscriptions.

        Args:
            topic: The message's topic.
            subscription_ids: Its MQTT 5 subscription identifiers, or ``()``.

        Returns:
            The callbacks to call, in registration order.
        """
        route = self._registry.route(topic, subscription_ids)
        if self._resumed and (route.stale or route.unexplained):
            try:
                self._remove_stale(topic, route)
            except Exception:  # delivery goes on whatever the clean-up met
                logger.exception(
                    "%r: removing stale subscriptions for %r failed", self._owner, topic
                )
        return route.callbacks

    def _remove_stale(self, topic: str, route: Route) -> None:
        """UNSUBSCRIBE filters the broker kept from an earlier session but nobody wants.

        Filters named by the message's identifiers are removed exactly. A message that
        no identifier explains and that reaches no callback was sent for some
        unregistered filter matching its topic: every such filter of up to
        ``_GUESS_LEVELS`` levels is removed (unsubscribing a filter the broker does not
        hold changes nothing).
        """
        guessed = not route.stale
        exact = not guessed or self._config.protocol_version == MQTT_V5
        candidates = (
            self._registry.unregistered_filters(topic, _GUESS_LEVELS)
            if guessed
            else list(route.stale)
        )
        with self._shared.lock:
            session = self._shared.session
            if session is None:
                return
            todo = self._stale_todo(candidates)
            for topic_filter in todo:
                mid = session.adapter.unsubscribe(topic_filter)
                if mid is not None:
                    session.unsubacks.then(mid, _StaleRemoval(topic_filter, exact))
                elif not self._config.clean_session:
                    self._registry.note_offline_removal(topic_filter)
        if todo:
            logger.info(
                "%r: message on %r came from a subscription kept by the broker from an earlier "
                "session and no longer registered; unsubscribing %s",
                self._owner,
                topic,
                todo if len(todo) <= 3 else f"{len(todo)} unregistered filters matching it",
            )

    def _stale_todo(self, candidates: list[str]) -> list[str]:
        """Pick the candidates not yet unsubscribed, within ``_STALE_LIMIT`` (lock held)."""
        todo = [f for f in candidates if f not in self._stale_sent and f not in self._registry]
        if len(self._stale_sent) + len(todo) > _STALE_LIMIT:
            logger.warning(
                "%r: more than %d stale broker subscriptions; connect once with "
                "clean_session=True to drop the stored session",
                self._owner,
                _STALE_LIMIT,
            )
            todo = todo[: max(0, _STALE_LIMIT - len(self._stale_sent))]
        self._stale_sent.update(todo)
        return todo


class _RestoreAck:
    """Records the SUBACK of a restored subscription (runs on the network thread)."""

    __slots__ = ("_filter", "_registry", "_sub_id", "_waiter")

    def __init__(
        self, registry: SubscriptionRegistry, topic_filter: str, sub_id: int, waiter: AckWaiter
    ) -> None:
        self._registry = registry
        self._filter = topic_filter
        self._sub_id = sub_id
        self._waiter = waiter

    def __call__(self, reasons: list[Reason] | None) -> None:
        self._waiter.settle(reasons)
        if reasons is None:
            return
        failures = [r for r in reasons if r.is_failure]
        if failures or not reasons:
            logger.error(
                "broker refused the restored subscription %r: %s; retried at the next connection",
                self._filter,
                failures[0] if failures else "empty SUBACK",
            )
            return
        self._registry.set_confirmed(self._filter, self._sub_id, True)


def _ignore_ack(reasons: list[Reason] | None) -> None:
    """Completion of an UNSUBSCRIBE nobody waits for."""


class _StaleRemoval:
    """Logs the UNSUBACK of a stale broker subscription (runs on the network thread).

    Args:
        topic_filter: The filter unsubscribed.
        known: Whether a success code means the broker held it: always for a filter
            named by an identifier; for a guessed one only with MQTT 5, whose UNSUBACK
            says "no subscription existed" otherwise.
    """

    __slots__ = ("_filter", "_known")

    def __init__(self, topic_filter: str, known: bool) -> None:
        self._filter = topic_filter
        self._known = known

    def __call__(self, reasons: list[Reason] | None) -> None:
        if not reasons:
            return
        reason = reasons[0]
        if reason.code == 0 and self._known:
            logger.info("broker removed the stale subscription %r", self._filter)
        elif reason.is_failure:
            logger.warning(
                "broker refused to remove the stale subscription %r: %s", self._filter, reason
            )

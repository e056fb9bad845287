"""The server's selector loop: accepts, TLS handshakes and reads for every client.

One selector loop (``epoll`` on Linux) serves all connections, so an idle client costs a socket
and a few small objects, not a thread. The loop belongs to one I/O thread, with one
refinement (the leader/followers pattern): a thread that blocks in
``TCPServer.wait_readable()`` or ``receive()`` runs the loop itself while it waits,
and the I/O thread steps aside until no thread has waited for ``_GRACE`` seconds.
A request/response server therefore reads each request on the thread that answers
it, without a thread hand-off per message, and the I/O thread still serves
everything when nobody waits. Exactly one thread runs the loop at a time (the
*owner*); ownership is guarded by the inbox's condition variable.

Sends do not go through the loop: the calling thread writes directly (see
:class:`SocketStream`). Anything that changes the selector from another thread is
queued with :meth:`ServerLoop.call_soon` and done by the next owner. Connect and
disconnect notifications are collected during an iteration and delivered by the
owner after it has given the loop up, so a callback may call any server method.

Logging: each connect and disconnect is logged at DEBUG. At INFO, a summary of the
connects, disconnects (and how many of them followed an error) and refusals is logged
at most once per :data:`_SUMMARY_INTERVAL`, at the first connect or disconnect after
the interval has passed, and when the server stops; nothing when nothing happened.
Failures that concern one client but need attention (a failed or unfinished TLS
handshake, a ``max_clients`` refusal, once per summary interval) are WARNINGs.

This module owns the thread and who runs the loop; :mod:`._server_conns` owns the
clients (accept, TLS handshake, reads, back-pressure, close) and :mod:`._server_events`
the notifications and the summary.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence

from eq1_network.common.logging import get_logger
from eq1_network.protocols.ethernet._inbox import Inbox
from eq1_network.protocols.ethernet._peer import Connection
from eq1_network.protocols.ethernet._poller import READ, Poller
from eq1_network.protocols.ethernet._server_conns import (
    LISTENER,
    ChunkSink,
    LoopConnections,
    LoopSettings,
    close_quietly,
)
from eq1_network.protocols.ethernet._server_events import (
    LOGGER_NAME,
    NO_NOTES,
    Activity,
    Note,
    PeerCallback,
    deliver,
)
from eq1_network.protocols.ethernet._stream import READ_CHUNK

__all__ = ["ChunkSink", "LoopSettings", "PeerCallback", "ServerLoop"]

logger = get_logger(LOGGER_NAME)

_GRACE = 0.02
"""Seconds the I/O thread stays aside after a waiting thread gave the loop up."""
_TICK = 0.5
_STOP_WAIT = 5.0
_WAKEUP = object()
_LEADER = object()
"""Loop owner while an application thread waiting for data runs the loop."""
_SUMMARY_INTERVAL = 60.0
"""Shortest time in seconds between two INFO summaries of connects and disconnects."""


class ServerLoop(LoopConnections):
    """Runs the selector loop of one listening socket in a named daemon thread.

    Args:
        listener: A bound, listening socket; the loop owns and closes it.
        inbox: Where received chunks go.
        settings: Connection settings and notifications.
        ids: Source of client ids, shared by every run of one server.
        name: Thread name.
    """

    def __init__(
        self,
        listener: socket.socket,
        inbox: Inbox,
        settings: LoopSettings,
        ids: Iterator[int],
        name: str,
    ) -> None:
        listener.setblocking(False)
        self._listener = listener
        self._inbox = inbox
        self._settings = settings
        self._sink = settings.sink or inbox.push
        self._ids = ids
        self._selector = Poller()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._commands: deque[Callable[[], None]] = deque()
        self._lock = threading.Lock()
        self._conns = {}
        self._handshaking = {}
        self._again = set()
        self._accept_paused_until = 0.0
        self._stopping = False
        self._owner: object | None = None
        """The thread running the loop: the I/O thread, :data:`_LEADER`, or ``None``."""
        self._alive = True
        self._started = False
        self.running = False
        """Whether the I/O thread is serving: started, neither stopped nor failed."""
        self._closures = 0
        self._park = threading.Condition(inbox.lock)
        self._users = 0
        self._leads = 0
        """Counts the times a waiting thread gave the loop up; the I/O thread watches it."""
        self._notes = []
        self._activity = Activity(_address(listener), time.monotonic(), _SUMMARY_INTERVAL)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._selector.register(listener, READ, LISTENER)
        self._selector.register(self._wake_r, READ, _WAKEUP)

    # -- called from any thread ----------------------------------------------------

    def start(self) -> None:
        """Start the I/O thread."""
        self._started = True
        self.running = True
        self._thread.start()

    def stop(self, timeout: float) -> None:
        """Stop serving: close every connection and the listener, then end the thread.

        Args:
            timeout: Longest wait for the thread to end.
        """
        with self._inbox.lock:
            self._stopping = True
            self.running = False
            self._inbox.cond.notify_all()
            self._park.notify_all()
        self._wake()
        if threading.current_thread() is not self._thread and self._thread.is_alive():
            self._thread.join(timeout)
            if self._thread.is_alive():
                logger.error("I/O thread %s did not stop within %g s", self._thread.name, timeout)

    def call_soon(self, command: Callable[[], None]) -> None:
        """Run ``command`` on the I/O thread at its next iteration.

        Args:
            command: A callable without arguments.
        """
        self._commands.append(command)
        self._wake()

    def drop(self, conn: Connection, reason: str, *, level: int = logging.DEBUG) -> None:
        """Close a connection from any thread; the disconnect notification follows.

        Args:
            conn: The connection.
            reason: Why, for the log.
            level: Log level of the disconnect; ``logging.WARNING`` or higher for a
                client dropped for a fault, which the INFO summary also counts as an error.
        """
        self.call_soon(lambda: self._close(conn, reason, level=level))

    def resume(self, conn: Connection) -> None:
        """Resume reading from a connection paused by back-pressure.

        Args:
            conn: The connection.
        """
        self.call_soon(lambda: self._resume(conn))

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # full (a wake-up is pending) or closed
            self._wake_w.send(b"\0")

    # -- the I/O thread ----------------------------------------------------------

    def _run(self) -> None:
        me = threading.current_thread()
        lock = self._inbox.lock
        seen = self._leads
        try:
            while True:
                lock.acquire()  # explicit acquire/release: cheaper than ``with``, once per event
                try:
                    # Stay aside while a thread waits for data, and until no thread has
                    # given the loop up for a whole _GRACE.
                    while not self._stopping and (
                        self._owner is not None or self._users or self._leads != seen
                    ):
                        seen = self._leads
                        self._park.wait(_GRACE)  # bounded: waiting threads leave silently
                    if self._stopping:
                        break
                    self._owner = me
                finally:
                    lock.release()
                try:
                    # Keep the loop while nobody else wants it: a thread that starts
                    # waiting for data wakes the loop (see wait_for_data) and is seen here.
                    while True:
                        notes = self._iterate(self._select_timeout())
                        if notes or self._stopping or self._users or self._leads != seen:
                            break
                finally:
                    self._release()
                if notes:
                    deliver(notes)
        except Exception:
            logger.exception("I/O thread %s failed; the server stops", me.name)
        finally:
            with lock:
                self._stopping = True
                self._alive = False
                self.running = False
                deadline = time.monotonic() + _STOP_WAIT
                while self._owner is not None and time.monotonic() < deadline:
                    self._inbox.wait_locked(deadline - time.monotonic())
                self._owner = me
            self._shutdown()

    def _release(self) -> None:
        """Give the loop up (the caller owns it) and wake threads waiting for it."""
        inbox = self._inbox
        lock = inbox.lock
        lock.acquire()
        try:
            self._owner = None
            if inbox.waiters:
                inbox.cond.notify_all()
        finally:
            lock.release()

    def wait_for_data(self, timeout: float) -> bool:
        """Wait until the inbox holds data, running the loop on this thread when free.

        Args:
            timeout: Longest wait in seconds.

        Returns:
            ``True`` if the inbox holds data or a client left meanwhile (callers
            tracking clients look again), ``False`` on timeout.
        """
        inbox = self._inbox
        items = inbox.items
        if items:  # a hint, as the result always is: no need for the lock
            return True
        if timeout < 0:
            timeout = 0.0  # epoll would take a negative timeout as "forever"
        started = time.monotonic()
        closures = self._closures
        lock = inbox.lock
        lock.acquire()
        if (
            self._owner is None
            and self._alive
            and not self._stopping
            and not (self._again or self._commands or self._handshaking)
            and not self._accept_paused_until
        ):
            # The common case, kept short: the loop is free and has nothing else to
            # do, so this thread runs one iteration on it.
            self._owner = _LEADER
            lock.release()
            try:
                notes = self._iterate(timeout)
            finally:
                lock.acquire()
                self._owner = None
                self._leads += 1
                if inbox.waiters:
                    inbox.cond.notify_all()
                lock.release()
            if notes:
                deliver(notes)
            if items or self._closures != closures:
                return True
        else:
            lock.release()
        return self._wait_for_data(started + timeout, closures)

    def _wait_for_data(self, deadline: float, closures: int) -> bool:
        """The general case of :meth:`wait_for_data`: wait, or lead, until ``deadline``."""
        inbox = self._inbox
        items = inbox.items
        lock = inbox.lock
        remaining = deadline - time.monotonic()
        with lock:
            self._users += 1
            try:
                while not items and self._closures == closures:
                    if remaining <= 0:
                        return False
                    if self._owner is not None or not self._alive or self._stopping:
                        if self._owner is self._thread:
                            self._wake()  # ask the I/O thread to hand the loop over
                        inbox.wait_locked(remaining)
                    else:
                        self._lead(lock, remaining)
                        if items:
                            return True
                    remaining = deadline - time.monotonic()
                return True
            finally:
                self._users -= 1
                self._leads += 1

    def _lead(self, lock: threading.Lock, remaining: float) -> None:
        """Run one iteration on the calling thread; ``lock`` is held on entry and exit."""
        self._owner = _LEADER
        lock.release()
        try:
            if self._again or self._commands or self._handshaking or self._accept_paused_until:
                limit = self._select_timeout()
                remaining = remaining if limit is None else min(limit, remaining)
            notes = self._iterate(remaining)
        finally:
            lock.acquire()
            self._owner = None
            if self._inbox.waiters:
                self._inbox.cond.notify_all()
        if notes:
            lock.release()
            try:
                deliver(notes)
            finally:
                lock.acquire()

    def _iterate(self, timeout: float | None) -> Sequence[Note]:  # noqa: C901 - the loop's hot path, inlined on purpose
        """One loop iteration; only the owner calls it.

        Returns:
            The notifications to deliver once the loop is given up (often empty).
        """
        poller = self._selector
        found = poller.data.get
        push = self._sink
        epoll = poller.epoll
        if epoll is not None:  # spares a call layer on the request/response path
            events = epoll.poll(-1.0 if timeout is None else timeout, poller.max_events)
        else:
            events = poller.select(timeout)
        for fd, _events in events:
            data = found(fd)
            if data.__class__ is Connection:  # the common case first
                if data.plain:
                    # The hot path: one system call takes what a plain client sent.
                    try:
                        chunk = data.stream.sock.recv(READ_CHUNK)
                    except BlockingIOError:
                        continue
                    except OSError as exc:
                        self._close(data, f"{type(exc).__name__}: {exc}", error=True)
                        continue
                    if chunk and len(chunk) < READ_CHUNK:
                        if push(data, chunk):
                            self._pause(data)
                    else:
                        self._read(data, chunk)  # closed, or more is waiting
                elif data.open:
                    if data.handshaking:
                        self._handshake(data)
                    else:
                        self._read(data)
            elif data is LISTENER:
                self._accept()
            elif data is _WAKEUP:
                self._drain_wakeups()
        if self._commands:
            self._run_commands()
        if self._again:
            self._service_again()
        if self._handshaking or self._accept_paused_until:
            self._housekeeping()
        notes = self._notes
        if not notes:
            return NO_NOTES  # never the list itself: the next owner appends to it
        self._notes = []
        return notes

    def _select_timeout(self) -> float | None:
        if self._again or self._commands:
            return 0.0
        if self._handshaking or self._accept_paused_until:
            return _TICK
        return None

    def _drain_wakeups(self) -> None:
        with contextlib.suppress(OSError):
            while self._wake_r.recv(4096):
                pass

    def _run_commands(self) -> None:
        while self._commands:
            command = self._commands.popleft()
            try:
                command()
            except Exception:
                logger.exception("I/O thread command %r failed", command)

    def _shutdown(self) -> None:
        notes: list[Note] = []
        self._notes = notes
        for conn in [*self._handshaking, *self.connections()]:
            self._close(conn, "server stopped", level=logging.DEBUG)
        self._summarize(final=True)
        deliver(notes)
        self._commands.clear()
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._selector.unregister(self._listener)
        close_quietly(self._listener)
        self._selector.close()
        close_quietly(self._wake_r)
        close_quietly(self._wake_w)


def _address(sock: socket.socket) -> str:
    try:
        host, port = sock.getsockname()[:2]
    except (OSError, ValueError):
        return "?"
    return f"{host}:{port}"

"""The pyserial adapter: one open port, its reads, writes and readiness waits.

This is the only module that calls pyserial's I/O methods. It exposes a tiny,
thread-safe surface to :class:`~eq1_network.protocols.serial.serial_protocol.SerialProtocol`
and turns pyserial exceptions into EQ-1 Network ones at the boundary.

Two readiness strategies, chosen when the port is opened:

* **select** (POSIX devices and ``socket://``, which have a file descriptor): the
  port runs with pyserial ``timeout=0``; a read returns what the kernel holds and a
  wait is ``poll`` (Linux) or ``select`` (macOS and others, whose ``poll`` and
  ``kqueue`` do not support terminals) on the descriptor plus a wake-up socket.
  For native POSIX devices, writes (and on Linux reads) go straight to the
  non-blocking descriptor pyserial opened (pyserial keeps no buffer of its own
  there), which saves a ``select`` per write and per read on the request/response
  path.
* **short read** (Windows ports, ``loop://``, ``rfc2217://``: no descriptor): the
  port runs with a short pyserial timeout; a wait is a one-byte read that returns
  as soon as a byte arrives, repeated until the deadline, and the byte is kept for
  the next read.
"""

from __future__ import annotations

import io
import os
import queue
import select
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, Final

import serial
from eq1_network.common.exceptions import (
    ProtocolConfigurationError,
    ProtocolConnectionError,
    ProtocolNotConnectedError,
    ProtocolTimeoutError,
)
from eq1_network.common.logging import get_logger
from eq1_network.protocols.serial._errors import open_error
from eq1_network.protocols.serial.settings import SerialSettings

__all__ = ["READ_CHUNK", "WAIT_SLICE", "OpenPort"]

logger = get_logger(__name__)

READ_CHUNK: Final = 65536
"""Most bytes one non-blocking read takes from the kernel."""

WAIT_SLICE: Final = 0.05
"""Seconds of one blocking one-byte read in the short-read strategy, and the wait used
when ``wait_readable(None)`` is called."""

_CLOSE_GRACE: Final = 2.0
"""Seconds ``close`` waits for readers, writers and waiters to leave before closing anyway."""

_USE_POLL: Final = sys.platform.startswith("linux") and hasattr(select, "poll")
_HANGUP: Final = (
    (select.POLLHUP | select.POLLERR | select.POLLNVAL) if hasattr(select, "POLLHUP") else 0
)


_REFUSED: tuple[type[Exception], ...] = (ValueError, serial.SerialException, OSError)
"""What pyserial raises when the driver refuses a setting (and termios.error on POSIX)."""
try:
    import termios as _termios

    _REFUSED += (_termios.error,)
except ImportError:  # Windows
    pass


def _has_descriptor(port: serial.Serial) -> bool:
    return type(port).fileno is not io.RawIOBase.fileno


def _wait_fds(fd: int, wake_fd: int, timeout: float) -> bool:
    """Wait until ``fd`` or ``wake_fd`` is readable; tell whether anything was."""
    if _USE_POLL:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        poller.register(wake_fd, select.POLLIN)
        return bool(poller.poll(timeout * 1000.0))
    ready, _, _ = select.select([fd, wake_fd], [], [], timeout)
    return bool(ready)


def _wait_writable(fd: int, wake_fd: int, timeout: float | None) -> None:
    """Wait until ``fd`` is writable, ``wake_fd`` readable, or ``timeout`` passes."""
    if _USE_POLL:
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        poller.register(wake_fd, select.POLLIN)
        poller.poll(None if timeout is None else timeout * 1000.0)
        return
    select.select([wake_fd], [fd], [], timeout)


def _open_serial(settings: SerialSettings, available: Callable[[], list[str]]) -> serial.Serial:
    """Open the pyserial port of ``settings`` (see :meth:`OpenPort.open` for the errors)."""
    kwargs: dict[str, Any] = {
        "baudrate": settings.baudrate,
        "bytesize": settings.bytesize,
        "parity": settings.parity,
        "stopbits": settings.stopbits,
        "xonxoff": settings.xonxoff,
        "rtscts": settings.rtscts,
        "dsrdtr": settings.dsrdtr,
        "write_timeout": settings.write_timeout,
    }
    if not settings.is_url and sys.platform != "win32":
        kwargs["exclusive"] = settings.exclusive
    if settings.scheme == "rfc2217":
        # pyserial's RFC 2217 client refuses write_timeout; its socket's own
        # timeout bounds every write instead.
        kwargs["write_timeout"] = None
    try:
        port = serial.serial_for_url(settings.port, do_not_open=True, **kwargs)
        port.timeout = 0 if _has_descriptor(port) else WAIT_SLICE
    except (ValueError, serial.SerialException) as exc:
        raise ProtocolConfigurationError(
            f"serial port {settings.port!r} rejected the settings {settings.describe()}: {exc}"
        ) from exc
    try:
        port.open()
    except ValueError as exc:
        raise ProtocolConfigurationError(
            f"serial port {settings.port!r} rejected the settings {settings.describe()}: {exc}"
        ) from exc
    except (serial.SerialException, OSError) as exc:
        raise open_error(settings.port, exc, available) from exc
    return port


class OpenPort:
    """An open pyserial port with thread-safe, non-blocking reads and bounded writes.

    Create it with :meth:`open`. Every method may be called from any thread.

    Args:
        port: The open pyserial object.
        settings: The settings it was opened with.
    """

    def __init__(self, port: serial.Serial, settings: SerialSettings) -> None:
        self._serial = port
        self._settings = settings
        self._name = settings.port
        self._selectable = _has_descriptor(port)
        self._fd = port.fileno() if self._selectable else -1
        native = self._selectable and sys.platform != "win32" and type(port) is serial.Serial
        self._direct_write = native
        self._direct_read = native and _USE_POLL and self._set_read_mode()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_w.setblocking(False)
        self._read_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._state = threading.Condition()
        self._waiters = 0
        self._closing = False
        self._pending = bytearray()

    # -- opening -------------------------------------------------------------

    @classmethod
    def open(cls, settings: SerialSettings, available: Callable[[], list[str]]) -> OpenPort:
        """Open the port described by ``settings``.

        Args:
            settings: Validated settings.
            available: Returns the device names present, for the missing-device message.

        Returns:
            The open port.

        Raises:
            ProtocolConnectionError: If the device or URL cannot be opened; the message
                names the port and the reason (missing, permission denied, busy, ...).
            ProtocolConfigurationError: If the driver rejects a setting (for example a
                baud rate the hardware cannot do).
        """
        port = _open_serial(settings, available)
        try:
            return cls(port, settings)
        except BaseException:
            port.close()
            raise

    # -- properties ----------------------------------------------------------

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called."""
        return self._closing

    # -- I/O -----------------------------------------------------------------

    def _lost(self, operation: str, exc: BaseException) -> ProtocolConnectionError:
        return ProtocolConnectionError(
            f"serial port {self._name!r}: {operation} failed, the device or peer is gone "
            f"({type(exc).__name__}: {exc})"
        )

    def read_available(self) -> bytes:
        """Return the bytes waiting now, without blocking (``b""`` if none or closed).

        Returns:
            The bytes.

        Raises:
            ProtocolConnectionError: If the device vanished or the link broke.
        """
        with self._read_lock:
            if self._closing:
                return b""
            data = b""
            if self._pending:
                data = bytes(self._pending)
                self._pending.clear()
            try:
                if self._direct_read:
                    data += self._read_fd()
                elif self._selectable:
                    data += self._serial.read(READ_CHUNK)
                else:
                    waiting = self._serial.in_waiting
                    if waiting:
                        data += self._serial.read(waiting)
            except (serial.SerialException, OSError) as exc:
                raise self._lost("read", exc) from exc
            return data

    def _read_fd(self) -> bytes:
        # VMIN=1 (set by _set_read_mode) on the non-blocking descriptor: "nothing waiting"
        # is EAGAIN, and an empty read means the terminal was hung up.
        try:
            chunk = os.read(self._fd, READ_CHUNK)
        except (BlockingIOError, InterruptedError):
            return b""
        if not chunk:
            raise serial.SerialException("the device hung up (it was unplugged or closed)")
        return chunk

    def reconfigure(self, **changes: Any) -> None:
        """Change settings of the open port, such as ``baudrate`` or ``parity``.

        Every pyserial setting assignment rewrites the terminal attributes, VMIN
        included; this is the one place that changes them on an open port, and it sets
        this adapter's read mode again afterwards.

        Args:
            **changes: pyserial attribute names and their new values.

        Raises:
            ProtocolConfigurationError: If pyserial or the driver refuses a value; the
                settings changed before it stay changed.
            ProtocolNotConnectedError: If the port was closed.
        """
        with self._read_lock, self._write_lock:
            if self._closing:
                raise ProtocolNotConnectedError(f"serial port {self._name!r} is closed")
            try:
                for name, value in changes.items():
                    if not hasattr(self._serial, name):
                        raise ValueError(f"pyserial ports have no setting {name!r}")
                    setattr(self._serial, name, value)
            except _REFUSED as exc:
                raise ProtocolConfigurationError(
                    f"serial port {self._name!r} rejected {name}={value!r}: {exc}; pass a "
                    "value the device supports"
                ) from exc
            finally:
                if self._direct_read and not self._set_read_mode():
                    self._direct_read = False

    def _set_read_mode(self) -> bool:
        """Set VMIN=1 so that an idle read fails with EAGAIN instead of returning nothing.

        pyserial configures VMIN=VTIME=0 (it waits with ``select`` itself), which makes
        "no data" and "hung up" look the same to a read. Called when the port opens and
        after :meth:`reconfigure`. Returns whether it worked.
        """
        try:
            import termios

            attrs = termios.tcgetattr(self._fd)
            cc = attrs[6]
            cc[termios.VMIN] = 1
            cc[termios.VTIME] = 0
            termios.tcsetattr(self._fd, termios.TCSANOW, attrs)
        except (ImportError, OSError) as exc:
            logger.debug("%r: keeping pyserial's reads: %s", self._name, exc)
            return False
        return True

    def _poll_hangup(self) -> bool:
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        return any(mask & _HANGUP for _, mask in poller.poll(0))

    def _write_fd(self, data: bytes) -> int:
        """Write all of ``data`` to the non-blocking descriptor, honouring ``write_timeout``."""
        try:
            sent = os.write(self._fd, data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        if sent == len(data):
            return sent
        view = memoryview(data)[sent:]
        limit = self._settings.write_timeout
        deadline = None if limit is None else time.monotonic() + limit
        while view:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise serial.SerialTimeoutException("Write timeout")
            _wait_writable(self._fd, self._wake_r.fileno(), remaining)
            if self._closing:
                break
            try:
                view = view[os.write(self._fd, view) :]
            except (BlockingIOError, InterruptedError):
                pass
        return len(data) - len(view)

    def write(self, data: bytes) -> int:
        """Write all of ``data``; concurrent calls never interleave.

        Args:
            data: The bytes.

        Returns:
            ``len(data)``.

        Raises:
            ProtocolNotConnectedError: If the port was closed.
            ProtocolTimeoutError: If ``write_timeout`` passed before all was written.
            ProtocolConnectionError: If the device vanished or the link broke.
        """
        with self._write_lock:
            if self._closing:
                raise ProtocolNotConnectedError(f"serial port {self._name!r} is closed")
            try:
                written = self._write_fd(data) if self._direct_write else self._serial.write(data)
            except (serial.SerialTimeoutException, queue.Full) as exc:  # queue: loop://
                raise ProtocolTimeoutError(
                    f"serial port {self._name!r}: {len(data)} bytes not written within "
                    f"write_timeout={self._settings.write_timeout} s (flow control holds the "
                    "line or the peer does not read); part of the message may have been sent"
                ) from exc
            except (serial.SerialException, OSError) as exc:
                raise self._lost("write", exc) from exc
            if written != len(data):
                if self._closing:
                    raise ProtocolNotConnectedError(
                        f"serial port {self._name!r} was closed during send"
                    )
                raise ProtocolConnectionError(
                    f"serial port {self._name!r}: only {written} of {len(data)} bytes written"
                )
            return written

    def wait_readable(self, timeout: float | None) -> bool:
        """Wait until a read may return data, the port closes, or ``timeout`` passes.

        Args:
            timeout: Longest wait in seconds; ``None`` waits :data:`WAIT_SLICE`.

        Returns:
            ``True`` if data may be waiting (or the port closed), ``False`` on timeout.

        Raises:
            ProtocolConnectionError: If the device vanished (short-read strategy).
        """
        limit = WAIT_SLICE if timeout is None else max(0.0, timeout)
        if self._selectable:
            return self._wait_select(limit)
        return self._wait_short_reads(limit)

    def _wait_select(self, timeout: float) -> bool:
        with self._state:
            if self._closing:
                return True
            self._waiters += 1
        try:
            return _wait_fds(self._fd, self._wake_r.fileno(), timeout)
        finally:
            with self._state:
                self._waiters -= 1
                self._state.notify_all()

    def _wait_short_reads(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            if not self._read_lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
                return False
            try:
                if self._closing or self._pending:
                    return True
                try:
                    if self._serial.in_waiting:
                        return True
                    if timeout > 0:
                        first = self._serial.read(1)
                        if first:
                            self._pending += first
                            return True
                except (serial.SerialException, OSError) as exc:
                    raise self._lost("read", exc) from exc
            finally:
                self._read_lock.release()
            if time.monotonic() >= deadline:
                return False

    def hung_up(self) -> bool:
        """Tell, without blocking, whether the OS reports a hang-up on the descriptor.

        Only Linux reports hang-ups of terminals through ``poll``; elsewhere, and for
        ports without a descriptor, this returns ``False`` and a vanished device is
        noticed by the next read or write.

        Returns:
            ``True`` if the device or peer is gone.
        """
        if not (_USE_POLL and self._selectable) or self._closing:
            return False
        try:
            return self._poll_hangup()
        except (OSError, ValueError):
            return True

    # -- closing -------------------------------------------------------------

    def close(self) -> None:
        """Close the port, waking and waiting (briefly) for threads using it. Idempotent."""
        with self._state:
            if self._closing:
                return
            self._closing = True
        self._interrupt()
        locks = [self._read_lock, self._write_lock]
        held = [lock for lock in locks if lock.acquire(timeout=_CLOSE_GRACE)]
        try:
            with self._state:
                if not self._state.wait_for(lambda: self._waiters == 0, _CLOSE_GRACE):
                    logger.warning("closing %r while a thread still waits on it", self._name)
            try:
                self._serial.close()
            except (serial.SerialException, OSError) as exc:
                logger.debug("closing %r: %s", self._name, exc)
        finally:
            for lock in held:
                lock.release()
            self._wake_r.close()
            self._wake_w.close()

    def _interrupt(self) -> None:
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        for cancel in ("cancel_read", "cancel_write"):
            method = getattr(self._serial, cancel, None)
            if method is None:
                continue
            try:
                method()
            except (serial.SerialException, OSError, AttributeError, TypeError) as exc:
                logger.debug("%s on %r: %s", cancel, self._name, exc)

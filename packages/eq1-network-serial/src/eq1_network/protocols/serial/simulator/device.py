"""Runs a device logic on the far end of a pseudo-terminal (POSIX only).

:class:`VirtualSerialDevice` either creates a pseudo-terminal pair with
``os.openpty()`` and offers its terminal end (optionally behind a stable symbolic
link, like ``/dev/serial/by-id/...``), or attaches to an existing terminal such as
the other end of a ``socat pty,raw,echo=0 pty,raw,echo=0`` pair. A named daemon
thread reads what the peer sends, feeds the logic and writes its replies at the
times the logic asks for, without ever blocking on a slow reader.

:meth:`VirtualSerialDevice.vanish` closes the device like an unplugged USB adapter
(the peer sees a hang-up and the link disappears); :meth:`VirtualSerialDevice.reappear`
brings it back under the same link.
"""

from __future__ import annotations

import errno
import heapq
import itertools
import os
import select
import socket
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Final

from eq1_network.common.exceptions import ProtocolConfigurationError, ProtocolConnectionError
from eq1_network.common.logging import get_logger
from eq1_network.protocols.serial.simulator.logic import DeviceLogic, Reply, Vanish

__all__ = ["VirtualSerialDevice"]

logger = get_logger(__name__)

_READ_SIZE: Final = 65536
_JOIN_TIMEOUT: Final = 10.0


def _set_raw_nonblocking(fd: int) -> None:
    import fcntl
    import tty

    tty.setraw(fd)
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    fcntl.fcntl(fd, fcntl.F_SETFL, flags | os.O_NONBLOCK)


class VirtualSerialDevice:
    """A simulated serial device on a pseudo-terminal.

    Args:
        logic: What the device does with received bytes (e.g. ``ModemLogic()``).
        link: Path of a symbolic link kept pointing at the device (created pty mode
            only), so the device keeps its name across :meth:`vanish` and
            :meth:`reappear`.
        attach: Path of an existing terminal to serve instead of creating a
            pseudo-terminal (e.g. one end of a ``socat`` pair).

    Attributes:
        received: Every byte the device has received, in order.

    Raises:
        ProtocolConfigurationError: If both ``link`` and ``attach`` are given, or on
            Windows, which has no pseudo-terminals.
    """

    def __init__(
        self,
        logic: DeviceLogic,
        *,
        link: str | os.PathLike[str] | None = None,
        attach: str | os.PathLike[str] | None = None,
    ) -> None:
        if sys.platform == "win32":
            raise ProtocolConfigurationError("VirtualSerialDevice needs POSIX pseudo-terminals")
        if link is not None and attach is not None:
            raise ProtocolConfigurationError("give either link or attach, not both")
        self.logic = logic
        self.link = Path(link) if link is not None else None
        self.attach = Path(attach) if attach is not None else None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._fd = -1
        self._slave_fd = -1
        self._device = ""
        self._stop = False
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_w.setblocking(False)
        self._schedule: list[tuple[float, int, bytes]] = []
        self._seq = itertools.count()
        self._busy_until = 0.0
        self._out = bytearray()
        self.received = bytearray()

    # -- lifecycle -----------------------------------------------------------

    @property
    def path(self) -> str:
        """What a client opens: the link if any, else the terminal's device name."""
        if self.link is not None:
            return str(self.link)
        return str(self.attach) if self.attach is not None else self._device

    @property
    def present(self) -> bool:
        """Whether the device is currently there (started and not vanished)."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> str:
        """Create (or attach to) the terminal and start serving it.

        Returns:
            :attr:`path`.

        Raises:
            ProtocolConnectionError: If the terminal cannot be created or opened.
        """
        with self._lock:
            if self.present:
                return self.path
            try:
                self._open()
            except OSError as exc:
                raise ProtocolConnectionError(f"cannot create the simulated device: {exc}") from exc
            self._stop = False
            self._thread = threading.Thread(
                target=self._run, name=f"eq1-serial-sim:{self.path}", daemon=True
            )
            self._thread.start()
            logger.debug("simulated device on %s", self.path)
            return self.path

    def _open(self) -> None:
        if self.attach is not None:
            self._fd = os.open(self.attach, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
            _set_raw_nonblocking(self._fd)
            self._device = str(self.attach)
            return
        master, slave = os.openpty()
        _set_raw_nonblocking(master)
        import tty

        tty.setraw(slave)
        self._fd, self._slave_fd = master, slave
        self._device = os.ttyname(slave)
        if self.link is not None:
            temp = self.link.with_name(self.link.name + ".new")
            temp.unlink(missing_ok=True)
            os.symlink(self._device, temp)
            os.replace(temp, self.link)

    def stop(self) -> None:
        """Stop serving and close the terminal (the peer sees a hang-up). Idempotent."""
        self._halt()
        if self.link is not None:
            self.link.unlink(missing_ok=True)

    def vanish(self) -> None:
        """Disappear like an unplugged USB device: close the line and remove the link.

        Raises:
            ProtocolConfigurationError: In attach mode (the terminal belongs to
                someone else; stop that program instead).
        """
        if self.attach is not None:
            raise ProtocolConfigurationError("vanish() needs a device created by the simulator")
        self.stop()

    def reappear(self) -> str:
        """Come back after :meth:`vanish`, under the same link when one is set.

        Returns:
            :attr:`path`.
        """
        return self.start()

    def _halt(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
            self._stop = True
            self._wake()
        if thread is not None and thread is not threading.current_thread():
            thread.join(_JOIN_TIMEOUT)
            if thread.is_alive():
                logger.warning("simulated device thread %s did not stop", thread.name)
        self._close_fds()

    def close(self) -> None:
        """Stop the device and release every resource."""
        self.stop()
        self._wake_r.close()
        self._wake_w.close()

    def __enter__(self) -> VirtualSerialDevice:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _close_fds(self) -> None:
        with self._lock:
            for fd in (self._fd, self._slave_fd):
                if fd >= 0:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            self._fd = self._slave_fd = -1
            self._schedule.clear()
            self._out.clear()
            self._busy_until = 0.0

    # -- output --------------------------------------------------------------

    def inject(self, data: bytes) -> None:
        """Send bytes to the peer now (e.g. an unsolicited result code).

        Args:
            data: The bytes.
        """
        with self._lock:
            heapq.heappush(self._schedule, (time.monotonic(), next(self._seq), bytes(data)))
            self._wake()

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    def _plan(self, replies: list[Reply]) -> None:
        now = time.monotonic()
        with self._lock:
            for reply in replies:
                due = max(now, self._busy_until) + reply.delay
                self._busy_until = due
                heapq.heappush(self._schedule, (due, next(self._seq), reply.data))

    def _release_due(self) -> float | None:
        """Move due replies to the output buffer; return seconds until the next one."""
        now = time.monotonic()
        with self._lock:
            while self._schedule and self._schedule[0][0] <= now:
                self._out += heapq.heappop(self._schedule)[2]
            return (self._schedule[0][0] - now) if self._schedule else None

    # -- the loop ------------------------------------------------------------

    def _run(self) -> None:
        fd, wake = self._fd, self._wake_r.fileno()
        gone = False
        try:
            while not self._stop and not gone:
                wait = self._release_due()
                writers = [fd] if self._out else []
                readable, writable, _ = select.select([fd, wake], writers, [], wait)
                if wake in readable:
                    self._wake_r.recv(4096)
                if fd in writable:
                    gone = not self._flush(fd)
                if fd in readable and not gone:
                    gone = not self._receive(fd)
        except Exception:
            logger.exception("simulated device %s failed", self.path)
            gone = True
        if gone:
            self._go_away()
        logger.debug("simulated device %s stopped", self.path)

    def _flush(self, fd: int) -> bool:
        """Write what is due; return ``False`` when the terminal was hung up."""
        try:
            sent = os.write(fd, self._out)
        except BlockingIOError:
            return True
        except OSError as exc:
            if exc.errno == errno.EIO:
                return False
            raise
        del self._out[:sent]
        return True

    def _receive(self, fd: int) -> bool:
        """Read and handle input; return ``False`` when the device must go away."""
        try:
            data = os.read(fd, _READ_SIZE)
        except BlockingIOError:
            return True
        except OSError as exc:
            if exc.errno == errno.EIO:  # the terminal was hung up
                return False
            raise
        if not data:
            return False
        self.received += data
        replies: list[Reply] = []
        for action in self.logic.receive(data):
            if isinstance(action, Vanish):
                self._plan(replies)
                return False
            replies.append(action)
        self._plan(replies)
        return True

    def _go_away(self) -> None:
        """The device vanished on its own (``AT+VANISH``, or its terminal hung up)."""
        with self._lock:
            if self._thread is threading.current_thread():
                self._thread = None
            self._stop = True
        if self.link is not None:
            self.link.unlink(missing_ok=True)
        self._close_fds()

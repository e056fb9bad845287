"""A peer program run by a test: start it, wait until it is ready, stop it by PID.

Its standard output and error go to a log file; every failure message ends with the
tail of that log, so a peer that refused its configuration says why.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from eq1_network.testing.waiting import DEFAULT_TIMEOUT, wait_until

__all__ = ["PeerProcess", "allow_interrupts", "port_accepts", "stop_process", "wait_listening"]


def allow_interrupts() -> bool:
    """Give SIGINT back its Python handler if this process started with it ignored.

    A shell without job control starts a background command (``pytest ... &`` in a
    script) with SIGINT ignored, and every program started from it inherits that: there
    ``_thread.interrupt_main()`` does nothing and a child Python never sees
    ``KeyboardInterrupt``, so tests of Ctrl-C handling would fail. Call it from the main
    thread before such tests, e.g. in ``pytest_configure`` of a ``conftest.py``; the
    children started afterwards get the default disposition again.

    Returns:
        ``True`` if the handler was given back, ``False`` if SIGINT was not ignored.
    """
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        return False
    signal.signal(signal.SIGINT, signal.default_int_handler)
    return True


def port_accepts(port: int, host: str = "127.0.0.1") -> bool:
    """Tell whether something accepts TCP connections on ``host:port`` right now.

    Args:
        port: The TCP port.
        host: The address, loopback by default.

    Returns:
        ``True`` if a connection could be opened (it is closed at once).
    """
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def stop_process(
    proc: subprocess.Popen[bytes] | subprocess.Popen[str] | None,
    sig: int = signal.SIGTERM,
    timeout: float = DEFAULT_TIMEOUT,
) -> None:
    """Signal one process by its PID and reap it, killing it if it does not stop in time.

    Args:
        proc: The process (``None`` or an already finished process is a no-op).
        sig: The first signal to send.
        timeout: Seconds to wait after each signal.
    """
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


def wait_listening(
    port: int,
    host: str = "127.0.0.1",
    *,
    process: PeerProcess | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> None:
    """Wait until something accepts TCP connections on ``host:port``.

    Args:
        port: The TCP port.
        host: The address, loopback by default.
        process: The peer expected to listen; if it exits first the wait fails at once
            with its exit status and log tail.
        timeout: Longest wait in seconds.

    Raises:
        AssertionError: If nothing listens within ``timeout`` or ``process`` exited.
    """

    def ready() -> bool:
        if process is not None:
            process.check_running()
        return port_accepts(port, host)

    suffix = f" (peer {process.name})" if process is not None else ""
    try:
        wait_until(ready, timeout, what=f"a listener on {host}:{port}{suffix}")
    except AssertionError as exc:
        if process is None:
            raise
        raise AssertionError(f"{exc}\n{process.log_tail()}") from None


class PeerProcess:
    """A program started by a test, with its output in a log file.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`::

        with PeerProcess(["socat", "TCP-LISTEN:5000,bind=127.0.0.1,fork", "PIPE"]) as peer:
            peer.wait_listening(5000)

    Args:
        argv: The command and its arguments.
        log: File that receives standard output and error (appended); a temporary file
            when omitted.
        env: Extra environment variables, added to the current environment.
        cwd: Working directory.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        log: Path | None = None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.argv = [str(a) for a in argv]
        self.name = Path(self.argv[0]).name
        if log is None:
            fd, name = tempfile.mkstemp(prefix=f"eq1-peer-{self.name}-", suffix=".log")
            os.close(fd)
            log = Path(name)
        self.log = log
        self.env = None if env is None else {**os.environ, **env}
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> PeerProcess:
        """Start the program (again, if it was stopped).

        Returns:
            This object.
        """
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(  # noqa: S603 - the test's own peer command
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
            )
        return self

    @property
    def pid(self) -> int | None:
        """The process id, or ``None`` before :meth:`start`."""
        return None if self.proc is None else self.proc.pid

    def poll(self) -> int | None:
        """Return the exit status, or ``None`` while it runs (or before :meth:`start`)."""
        return None if self.proc is None else self.proc.poll()

    def running(self) -> bool:
        """Tell whether the process was started and has not exited."""
        return self.proc is not None and self.proc.poll() is None

    def log_text(self) -> str:
        """Return everything the program printed so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def log_tail(self, lines: int = 30) -> str:
        """Return the last ``lines`` lines of the log, with a heading naming the peer."""
        tail = "\n".join(self.log_text().splitlines()[-lines:])
        return f"--- last {lines} log lines of {self.name} (pid {self.pid}) ---\n{tail}"

    def check_running(self) -> None:
        """Fail if the process has exited.

        Raises:
            AssertionError: With the exit status and the log tail.
        """
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(
                f"peer {self.name} exited with status {self.proc.returncode}\n{self.log_tail()}"
            )

    def wait_listening(
        self, port: int, host: str = "127.0.0.1", timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        """Wait until the program accepts TCP connections on ``host:port``.

        Raises:
            AssertionError: If it exits or does not listen in time (with the log tail).
        """
        wait_listening(port, host, process=self, timeout=timeout)

    def wait_line(self, pattern: str, timeout: float = DEFAULT_TIMEOUT) -> re.Match[str]:
        """Wait until a line of the program's output matches the regular expression.

        Args:
            pattern: A regular expression searched in each line.
            timeout: Longest wait in seconds.

        Returns:
            The match, so a test can read a port or an address the program printed.

        Raises:
            AssertionError: If it exits or prints no such line in time (with the log tail).
        """
        regex = re.compile(pattern)

        def find() -> re.Match[str] | None:
            for line in self.log_text().splitlines():
                match = regex.search(line)
                if match:
                    return match
            self.check_running()
            return None

        try:
            return wait_until(find, timeout, what=f"{self.name} to print {pattern!r}")
        except AssertionError as exc:
            if "exited with status" in str(exc):
                raise
            raise AssertionError(f"{exc}\n{self.log_tail()}") from None

    def send_signal(self, sig: int) -> None:
        """Send a signal to the running process (by its PID)."""
        if self.running():
            assert self.proc is not None
            self.proc.send_signal(sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Stop the process (``sig``, then ``SIGKILL`` after ``timeout``) and reap it."""
        stop_process(self.proc, sig, timeout)

    def kill(self) -> None:
        """Kill the process at once (``SIGKILL``), as a crash would, and reap it."""
        stop_process(self.proc, getattr(signal, "SIGKILL", signal.SIGTERM))

    def __enter__(self) -> PeerProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

"""Pseudo-terminal pairs made by ``socat``: a null-modem cable for serial tests (POSIX only).

``socat pty,raw,echo=0,link=A pty,raw,echo=0,link=B`` joins two pseudo-terminals: what
is written to ``A`` is read from ``B`` and back. The links are stable paths a test can
pass to a serial port; :meth:`SocatProcess.stop` makes them vanish and
:meth:`SocatProcess.start` brings them back, as unplugging a device would.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from eq1_network.testing.peers import require_executable
from eq1_network.testing.process import PeerProcess
from eq1_network.testing.waiting import DEFAULT_TIMEOUT, wait_until

__all__ = ["SocatProcess", "pty_echo", "pty_pair"]


class SocatProcess:
    """A ``socat`` process whose addresses create pseudo-terminals behind symbolic links.

    Args:
        executable: Path of ``socat``.
        log: File receiving socat's debug output (``-d -d``).
        *addresses: socat's two addresses.
        links: The links the addresses create; :meth:`start` waits for all of them.
    """

    def __init__(
        self, executable: str, log: Path, *addresses: str, links: tuple[Path, ...]
    ) -> None:
        self.exe = executable
        self.log = log
        self.addresses = addresses
        self.links = links
        self.peer: PeerProcess | None = None

    def start(self, timeout: float = DEFAULT_TIMEOUT) -> SocatProcess:
        """Start socat (again) and wait until every link exists.

        Returns:
            This object.

        Raises:
            AssertionError: If socat exits or the links do not appear in time (with its log).
        """
        for link in self.links:
            link.unlink(missing_ok=True)
        peer = PeerProcess([self.exe, "-d", "-d", *self.addresses], log=self.log).start()
        self.peer = peer

        def ready() -> bool:
            peer.check_running()
            return all(link.exists() for link in self.links)

        try:
            wait_until(ready, timeout, what="socat's pseudo-terminal links")
        except AssertionError as exc:
            self.stop()
            raise AssertionError(f"socat did not start: {exc}\n{peer.log_tail()}") from None
        return self

    @property
    def pid(self) -> int | None:
        """socat's process id while it runs."""
        return None if self.peer is None else self.peer.pid

    def stop(self) -> None:
        """Stop socat by its PID and reap it; the links disappear (idempotent)."""
        peer, self.peer = self.peer, None
        if peer is not None:
            peer.stop()

    def __enter__(self) -> SocatProcess:
        return self.start() if self.peer is None else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def pty_pair(folder: Path, names: tuple[str, str] = ("ttyA", "ttyB")) -> SocatProcess:
    """Make (not start) a null-modem pair ``folder/ttyA <-> folder/ttyB``.

    Skips the test when socat is missing (fails under ``EQ1_REQUIRE_PEERS``).

    Args:
        folder: Where the links and ``socat.log`` go (a ``tmp_path``).
        names: The two link names.

    Returns:
        The unstarted process; call :meth:`SocatProcess.start` or use ``with``.
    """
    exe = require_executable("socat", "pseudo-terminal pairs")
    a, b = folder / names[0], folder / names[1]
    return SocatProcess(
        exe,
        folder / "socat.log",
        f"pty,raw,echo=0,link={a}",
        f"pty,raw,echo=0,link={b}",
        links=(a, b),
    )


def pty_echo(folder: Path, name: str = "ttyEcho") -> SocatProcess:
    """Make (not start) a pseudo-terminal ``folder/ttyEcho`` whose far end (socat) echoes.

    Args:
        folder: Where the link and ``socat.log`` go.
        name: The link name.

    Returns:
        The unstarted process.
    """
    exe = require_executable("socat", "an echoing pseudo-terminal")
    link = folder / name
    return SocatProcess(
        exe, folder / "socat.log", f"pty,raw,echo=0,link={link}", "PIPE", links=(link,)
    )

"""Testing kit for protocol plugins: contract suites, real peers and waiting helpers.

Install it with ``pip install "eq1-network-core[testing]"`` (pytest, and trustme for
TLS certificates). Plugin authors subclass :class:`ReqResContract` or
:class:`PubSubContract` in their own tests and use the helpers below for peers:

- :func:`wait_until` polls a condition and raises ``AssertionError`` naming what was
  awaited when it stays false past its timeout.
- :class:`PeerProcess` runs a peer program, waits until it listens or prints a ready
  line, stops it by PID and shows its log tail on failure.
- :class:`EchoServer` is a threaded TCP echo (or sink) peer on 127.0.0.1.
- :func:`pty_pair` / :func:`pty_echo` make socat pseudo-terminal pairs (POSIX).
- :func:`make_tls_files` makes a CA and certificates on the fly.
- :func:`free_port` returns a free TCP port on 127.0.0.1.
- :func:`allow_interrupts` gives SIGINT its handler back in a test run started with it
  ignored (a background job of a script), for tests of Ctrl-C handling.
- :func:`check_lazy_exports` checks a package's lazy re-exports against its
  type-checking imports and ``__all__``.
"""

from eq1_network.testing._collect import MessageCollector, read_exactly
from eq1_network.testing.events import EventLog
from eq1_network.testing.exports import check_lazy_exports
from eq1_network.testing.interrupts import InterruptingLock
from eq1_network.testing.peers import free_port, require_executable, require_peers
from eq1_network.testing.process import (
    PeerProcess,
    allow_interrupts,
    port_accepts,
    stop_process,
    wait_listening,
)
from eq1_network.testing.pubsub import PubSubContract
from eq1_network.testing.reqres import ReqResContract
from eq1_network.testing.socat import SocatProcess, pty_echo, pty_pair
from eq1_network.testing.tcp import EchoServer, recv_exactly
from eq1_network.testing.tls import TLSFiles, make_tls_files
from eq1_network.testing.waiting import DEFAULT_TIMEOUT, wait_until

__all__ = [
    "DEFAULT_TIMEOUT",
    "EchoServer",
    "EventLog",
    "InterruptingLock",
    "MessageCollector",
    "PeerProcess",
    "PubSubContract",
    "ReqResContract",
    "SocatProcess",
    "TLSFiles",
    "allow_interrupts",
    "check_lazy_exports",
    "free_port",
    "make_tls_files",
    "port_accepts",
    "pty_echo",
    "pty_pair",
    "read_exactly",
    "recv_exactly",
    "require_executable",
    "require_peers",
    "stop_process",
    "wait_listening",
    "wait_until",
]

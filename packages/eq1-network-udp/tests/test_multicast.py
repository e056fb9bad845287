"""Multicast between two sockets, in a network namespace the test creates.

Needs ``unshare -n`` (root, or user namespaces) and ``ip``. Where they are missing the
test is skipped with the reason, except under ``EQ1_REQUIRE_PEERS`` (CI), where that is
a failure. IPv6 runs where the kernel has it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from eq1_network.common.exceptions import ProtocolConfigurationError
from eq1_network.protocols.udp import UDPClient, UDPServer
from eq1_network.testing import require_executable, require_peers

SCRIPT = Path(__file__).with_name("netns_multicast.py")
SETUP = {
    "ipv4": "ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo",
    "ipv6": (
        "ip link set lo up && ip link add eq1mc0 type veth peer name eq1mc1 && "
        "ip link set eq1mc0 up && ip link set eq1mc1 up && "
        "ip -6 addr add fd00::1/64 dev eq1mc0 nodad && ip -6 route add ff00::/8 dev eq1mc0"
    ),
}


def _unavailable(reason: str) -> None:
    if require_peers():
        pytest.fail(f"{reason} (EQ1_REQUIRE_PEERS is set, so this cannot be skipped)")
    pytest.skip(reason)


def _namespace_or_skip() -> str:
    unshare = require_executable("unshare", "creates the network namespace of multicast tests")
    require_executable("ip", "configures the network namespace of multicast tests")
    probe = subprocess.run(
        [unshare, "-n", "true"], capture_output=True, text=True, timeout=30, check=False
    )
    if probe.returncode != 0:
        _unavailable(f"network namespaces are unavailable here: {probe.stderr.strip()}")
    return unshare


@pytest.mark.timeout(120)
@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
def test_multicast_in_a_network_namespace(family: str) -> None:
    unshare = _namespace_or_skip()
    if family == "ipv6" and not socket.has_ipv6:
        _unavailable("this Python has no IPv6")
    if family == "ipv6" and not Path("/proc/net/if_inet6").exists():
        _unavailable("this kernel has no IPv6")
    command = f"{SETUP[family]} && exec {sys.executable} {SCRIPT} {family}"
    result = subprocess.run(
        [unshare, "-n", "sh", "-c", command],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert f"{family}: only the member got the datagram after the other left" in lines, lines


def test_group_arguments_are_checked() -> None:
    with UDPServer("127.0.0.1", 0) as server:
        with pytest.raises(ProtocolConfigurationError, match="not a multicast address"):
            server.join_group("10.0.0.1")
        with pytest.raises(ProtocolConfigurationError, match="multicast IP address"):
            server.join_group("not-an-address")
        with pytest.raises(ProtocolConfigurationError, match="IPv6 but the socket is not"):
            server.join_group("ff15::1")
    with pytest.raises(ProtocolConfigurationError, match="multicast_ttl"):
        UDPClient("239.1.2.3", 5000, multicast_ttl=300)


def test_sending_options_are_applied() -> None:
    client = UDPClient(
        "127.0.0.1", 9, multicast_ttl=3, multicast_loop=False, multicast_interface="127.0.0.1"
    )
    with client:
        sock = client._sock
        assert sock is not None
        assert sock.getsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL) == 3
        assert sock.getsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP) == 0
        assert socket.inet_ntoa(sock.getsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, 4)) == (
            "127.0.0.1"
        )

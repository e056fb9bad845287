"""Multicast between a UDPClient and UDPServers; run inside a fresh network namespace.

The test starts it as ``unshare -n sh -c "SETUP; python netns_multicast.py FAMILY"``:
SETUP brings up ``lo`` with a route for 224.0.0.0/4 (IPv4 groups on 127.0.0.1) and a
veth pair ``eq1mc0``/``eq1mc1`` with a route for ff00::/8 (Linux does not loop IPv6
multicast back on ``lo``), so no datagram leaves the namespace. It prints one line
per check and exits non-zero on the first failure.
"""

from __future__ import annotations

import sys

from eq1_network.common.exceptions import ProtocolConnectionError
from eq1_network.protocols.udp import UDPClient, UDPServer

WAIT = 10.0
SETTINGS = {
    "ipv4": {"any": "0.0.0.0", "group": "239.1.2.3", "interface": "127.0.0.1"},
    "ipv6": {"any": "::", "group": "ff15::1:2", "interface": "eq1mc0"},
}


def main(family: str) -> int:
    cfg = SETTINGS[family]
    first = UDPServer(
        cfg["any"], 0, groups=[cfg["group"]], interface=cfg["interface"], reuse_address=True
    )
    first.connect()
    assert first.address is not None
    port = first.address[1]
    second = UDPServer(cfg["any"], port, reuse_address=True)
    second.connect()
    second.join_group(cfg["group"], cfg["interface"])
    sender = UDPClient(
        cfg["group"],
        port,
        multicast_ttl=1,
        multicast_loop=True,
        multicast_interface=cfg["interface"],
    )
    sender.connect()
    assert sender.max_message_size == (65_527 if family == "ipv6" else 65_507)
    sender.send(b"to the group")
    for name, server in (("first", first), ("second", second)):
        datagram = server.receive(WAIT)
        assert datagram is not None, f"{name} receiver got nothing"
        assert datagram.data == b"to the group", datagram
        print(f"{family}: {name} receiver got the datagram from {datagram.peer}")
    second.leave_group(cfg["group"], cfg["interface"])
    try:
        second.leave_group(cfg["group"], cfg["interface"])
    except ProtocolConnectionError:
        print(f"{family}: leaving twice is refused")
    else:
        raise AssertionError("leaving a group twice was accepted")
    sender.send(b"after leaving")
    datagram = first.receive(WAIT)
    assert datagram is not None and datagram.data == b"after leaving", datagram
    assert second.receive(0.5) is None, "the receiver that left still got the datagram"
    print(f"{family}: only the member got the datagram after the other left")
    sender.disconnect()
    first.disconnect()
    second.disconnect()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

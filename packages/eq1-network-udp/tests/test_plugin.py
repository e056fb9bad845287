"""Discovery through the entry point, the URL schemes and the docs/urls.md rows."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import eq1_network
from eq1_network.common.policies import OverflowPolicy
from eq1_network.interfaces.protocol import ReqResProtocol
from eq1_network.protocols.udp import MAX_DATAGRAM_IPV4, UDPClient, UDPServer

DOCS = Path(__file__).resolve().parents[3] / "docs" / "urls.md"

UDP_TABLE: dict[str, tuple[type, dict[str, object]]] = {
    "udp://127.0.0.1:5000?timeout=2&max_datagram=1472": (
        UDPClient,
        {"host": "127.0.0.1", "port": 5000, "timeout": 2.0, "max_message_size": 1472},
    ),
    "udp://192.168.1.255:5000?broadcast=true": (
        UDPClient,
        {"host": "192.168.1.255", "broadcast": True, "max_message_size": MAX_DATAGRAM_IPV4},
    ),
    "udp-listen://0.0.0.0:5000?queue_size=1000&overflow=drop_oldest": (
        UDPServer,
        {
            "host": "0.0.0.0",
            "port": 5000,
            "queue_size": 1000,
            "overflow": OverflowPolicy.DROP_OLDEST,
        },
    ),
}


def test_names_and_schemes_are_registered() -> None:
    assert eq1_network.get_protocol("udp") is UDPClient
    assert eq1_network.get_protocol("udp-server") is UDPServer
    schemes = eq1_network.ProtocolManager.registry.schemes()
    assert schemes["udp"].name == "udp"
    assert schemes["udp-listen"].name == "udp-server"
    assert schemes["udp"].distribution == "eq1-network-udp"


def test_every_documented_udp_url_builds_its_protocol() -> None:
    rows = re.findall(r"^\| `([a-z0-9+.\-]+://[^`]*)` \|", DOCS.read_text("utf-8"), re.MULTILINE)
    documented = [url for url in rows if url.partition("://")[0] in ("udp", "udp-listen")]
    assert sorted(documented) == sorted(UDP_TABLE)
    for url, (kind, attributes) in UDP_TABLE.items():
        proto = eq1_network.from_url(url)
        assert type(proto) is kind, url
        assert {name: getattr(proto, name) for name in attributes} == attributes, url
        assert not proto.is_connected()


def test_both_are_message_transports() -> None:
    assert ReqResProtocol.max_message_size is None
    assert UDPClient("127.0.0.1", 9).max_message_size == MAX_DATAGRAM_IPV4
    assert UDPServer("127.0.0.1", 0, max_datagram=1000).max_message_size == 1000


def test_discovery_in_a_fresh_process_does_not_import_the_transport() -> None:
    code = (
        "import sys, eq1_network\n"
        "names = [s.name for s in eq1_network.ProtocolManager.registry.specs()]\n"
        "assert 'udp' in names and 'udp-server' in names, names\n"
        "assert 'eq1_network.protocols.udp.udp_client' not in sys.modules\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"

"""TLS certificates made on the fly for tests, with trustme (the ``testing`` extra).

Nothing is read from or written to a system trust store: the files are PEM files in a
folder the test owns (a ``tmp_path``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from eq1_network.testing.peers import require_peers

__all__ = ["TLSFiles", "make_tls_files"]


@dataclass(frozen=True)
class TLSFiles:
    """PEM files for one test session.

    ``server_cert`` is valid for ``127.0.0.1`` and ``localhost``; ``client_cert`` is for
    mutual TLS; ``other_ca`` signed ``other_server_cert`` (a chain the main CA does not
    trust); ``wrong_name_cert`` is signed by the main CA for another host name.
    """

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path
    other_server_cert: Path
    other_server_key: Path
    wrong_name_cert: Path
    wrong_name_key: Path


def make_tls_files(folder: Path) -> TLSFiles:
    """Create a CA, server, client, untrusted and wrong-name certificates in ``folder``.

    Args:
        folder: An existing folder; the files are created in it.

    Returns:
        Their paths.

    Note:
        Skips the test when trustme is missing (fails under ``EQ1_REQUIRE_PEERS``);
        ``pip install "eq1-network-core[testing]"`` installs it.
    """
    try:
        import trustme
    except ImportError:
        message = 'trustme is not installed: pip install "eq1-network-core[testing]"'
        if require_peers():
            pytest.fail(f"{message} (EQ1_REQUIRE_PEERS is set, so this cannot be skipped)")
        pytest.skip(message)
    ca, other = trustme.CA(), trustme.CA()
    issued = {
        "server": ca.issue_cert("127.0.0.1", "localhost"),
        "client": ca.issue_cert("eq1-test-client.invalid"),
        "other-server": other.issue_cert("127.0.0.1", "localhost"),
        "wrong": ca.issue_cert("other.invalid"),
    }
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    other.cert_pem.write_to_path(str(folder / "other-ca.pem"))
    for name, cert in issued.items():
        cert.cert_chain_pems[0].write_to_path(str(folder / f"{name}.pem"))
        cert.private_key_pem.write_to_path(str(folder / f"{name}.key"))
    return TLSFiles(
        ca=folder / "ca.pem",
        server_cert=folder / "server.pem",
        server_key=folder / "server.key",
        client_cert=folder / "client.pem",
        client_key=folder / "client.key",
        other_ca=folder / "other-ca.pem",
        other_server_cert=folder / "other-server.pem",
        other_server_key=folder / "other-server.key",
        wrong_name_cert=folder / "wrong.pem",
        wrong_name_key=folder / "wrong.key",
    )

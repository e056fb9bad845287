"""Mutual TLS: what a client without its certificate is told."""

from __future__ import annotations

from typing import Any

import pytest

from eq1_network.common.exceptions import ProtocolConnectionError


def test_missing_client_certificate_is_named_as_the_likely_cause(
    mosquitto: Any, make_client: Any
) -> None:
    client = make_client(mosquitto.mtls_port, broker={"ca_certs": str(mosquitto.tls.ca)})
    with pytest.raises(ProtocolConnectionError) as caught:
        client.connect()
    text = str(caught.value)
    assert "TLS handshake" in text and "client certificate" in text, text
    assert "certfile" in text


def test_a_tls_broker_that_answers_is_not_blamed_on_the_handshake(
    mosquitto: Any, make_client: Any
) -> None:
    tls = mosquitto.tls
    client = make_client(
        mosquitto.mtls_port,
        broker={
            "ca_certs": str(tls.ca),
            "certfile": str(tls.client_cert),
            "keyfile": str(tls.client_key),
        },
    )
    assert client.connect()
    session = client._shared.session
    assert session is not None and session.adapter.close_detail() is None

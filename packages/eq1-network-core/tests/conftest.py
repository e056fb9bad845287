"""Test configuration of the core distribution."""

from __future__ import annotations

import pytest

from eq1_network.testing import allow_interrupts


def pytest_configure(config: pytest.Config) -> None:
    """Give SIGINT its handler back in a run started with it ignored (Ctrl-C tests)."""
    allow_interrupts()

"""The package's lazy re-exports agree with its type-checking imports and ``__all__``."""

from __future__ import annotations

import importlib

from eq1_network.testing import check_lazy_exports


def test_lazy_exports_are_consistent_and_resolve() -> None:
    check_lazy_exports(importlib.import_module("eq1_network.protocols.mqtt"))

"""Reconnection and back-pressure policies of the worker.

Defined in :mod:`eq1_network.common.policies` and re-exported here.
"""

from __future__ import annotations

from eq1_network.common.policies import OverflowPolicy, QueueFullPolicy, ReconnectPolicy

__all__ = ["OverflowPolicy", "QueueFullPolicy", "ReconnectPolicy"]

"""Observability: a tap on any protocol, recording, replay and statistics.

- :class:`Tap` sees every send, read, publish and delivered message of one protocol
  instance and hands :class:`TapEvent` objects to listeners.
- :class:`Recorder` is a listener writing JSON Lines with size-based rotation;
  :func:`read_recording` and :func:`replay` play a recording onto any endpoint.
- :class:`Stats` is a listener counting messages, bytes, errors, timeouts and round
  trips; :func:`report` hands snapshots to exporter plugins
  (``eq1_network_report_stats``); :mod:`eq1_network.observe.prometheus` serves them
  as Prometheus metrics.

Nothing here is imported by the protocols: an application that installs no tap runs
no code of this package.
"""

from eq1_network.observe.record import (
    RecordedEvent,
    Recorder,
    preview,
    read_recording,
    replay,
    select_events,
)
from eq1_network.observe.stats import Stats, StatsSnapshot, percentile, report
from eq1_network.observe.tap import Listener, Tap, TapEvent, endpoint_of

__all__ = [
    "Listener",
    "RecordedEvent",
    "Recorder",
    "Stats",
    "StatsSnapshot",
    "Tap",
    "TapEvent",
    "endpoint_of",
    "percentile",
    "preview",
    "read_recording",
    "replay",
    "report",
    "select_events",
]

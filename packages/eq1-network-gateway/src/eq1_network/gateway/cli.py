"""The ``eq1-network gateway`` command: validate a file, or run until a signal."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from types import FrameType
from typing import Any

from eq1_network.common.exceptions import PluginLoadError, ProtocolError
from eq1_network.common.logging import get_logger
from eq1_network.gateway.config import ConfigError, GatewayConfig, load_config
from eq1_network.gateway.metrics import serve_gateway_metrics
from eq1_network.gateway.runtime import Gateway
from eq1_network.observe import report

__all__ = ["run_gateway"]

log = get_logger(__name__)


def _summary(config: GatewayConfig) -> str:
    points = sum(len(b.points or []) for b in config.bridges)
    return (
        f"{len(config.connections)} connection(s), {len(config.bridges)} bridge(s), "
        f"{points} point(s)"
    )


def run_gateway(args: argparse.Namespace) -> int:
    """Run the command; return its exit code.

    Args:
        args: ``config``, ``check``, ``record``, ``metrics_port`` and ``stats_interval``.

    Returns:
        0 after a clean stop (or a valid file with ``--check``), 2 for an invalid file or
        a gateway that cannot be built.
    """
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        for line in exc.errors:
            sys.stderr.write(f"error: {line}\n")
        return 2
    if args.check:
        sys.stdout.write(f"{args.config}: valid: {_summary(config)}\n")
        return 0
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    try:
        gateway = Gateway(config, record=args.record)
    except (ProtocolError, OSError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    code = _serve(gateway, args)
    if code == 0:
        _report(gateway, "at exit")
    return code


def _serve(gateway: Gateway, args: argparse.Namespace) -> int:
    """Run ``gateway`` until SIGINT or SIGTERM, then stop it and restore the handlers."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: stopping", signum)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    metrics = None
    try:
        if args.metrics_port is not None:
            metrics = _serve_metrics(gateway, args.metrics_port)
            if metrics is None:
                return 2
        gateway.start()
        while not stop.wait(args.stats_interval or 3600.0):
            if args.stats_interval:
                _report(gateway)
    finally:
        if metrics is not None:
            metrics.shutdown()
        gateway.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def _report(gateway: Gateway, when: str = "") -> None:
    """Log the counters: per connection at INFO, with every point's at DEBUG."""
    report([s.snapshot() for s in gateway.connection_stats()])
    stats = gateway.stats()
    label = f"counters {when}" if when else "counters"
    log.info("%s: %s", label, json.dumps(_without_points(stats), default=str))
    if log.isEnabledFor(logging.DEBUG):
        log.debug("%s, every point: %s", label, json.dumps(stats, default=str))


def _without_points(value: Any) -> Any:
    """``value`` with each ``points`` table replaced by the number of its points."""
    if isinstance(value, dict):
        return {
            key: len(item) if key == "points" and isinstance(item, dict) else _without_points(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_without_points(item) for item in value]
    return value


def _serve_metrics(gateway: Gateway, port: int) -> Any:
    try:
        server = serve_gateway_metrics(gateway, port)
    except (PluginLoadError, OSError) as exc:
        sys.stderr.write(f"error: --metrics-port {port}: {exc}\n")
        return None
    log.info("Prometheus metrics on http://127.0.0.1:%d/metrics", server.server_port)
    return server

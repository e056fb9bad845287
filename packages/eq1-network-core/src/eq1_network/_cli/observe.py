"""``record``, ``replay`` and ``stats``: the observability layer on the command line."""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from typing import Any

from eq1_network._cli.common import (
    EXIT_CODES,
    OK,
    CommandTimeoutError,
    Deadline,
    add_credentials,
    decode_escapes,
    install_sigterm,
    open_endpoint,
)
from eq1_network.common.exceptions import ProtocolError, ProtocolUsageError
from eq1_network.common.logging import get_logger
from eq1_network.interfaces.protocol import PubSubProtocol, serves_many_peers
from eq1_network.observe import Recorder, Stats, Tap, read_recording, replay, report
from eq1_network.observe.record import select_events
from eq1_network.urls import mask_url

__all__ = ["add_observe_commands"]

logger = get_logger(__name__)


def add_observe_commands(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``record``, ``replay`` and ``stats``.

    Args:
        sub: The sub-command parsers.
    """
    _add_record(sub)
    _add_replay(sub)
    _add_stats(sub)


def _add_record(sub: argparse._SubParsersAction[Any]) -> None:
    rec = sub.add_parser(
        "record",
        help="record what arrives on an endpoint to JSON Lines",
        description="Record every message arriving on URL (subscribed TOPICs for pub/sub).",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rec.add_argument("url", metavar="URL")
    rec.add_argument("-o", "--out", required=True, metavar="FILE", help="the recording")
    rec.add_argument("-t", "--topic", action="append", metavar="T", help="pub/sub filter (#)")
    rec.add_argument("--for", dest="duration", type=float, metavar="S", help="stop after S s")
    rec.add_argument("-C", "--count", type=int, metavar="N", help="stop after N messages")
    rec.add_argument("--max-bytes", type=int, metavar="B", help="rotate past B bytes")
    rec.add_argument("--backups", type=int, default=5, metavar="K", help="rotated files kept")
    add_credentials(rec)
    rec.set_defaults(handler=cmd_record, url_command=True)


def _add_replay(sub: argparse._SubParsersAction[Any]) -> None:
    rep = sub.add_parser(
        "replay",
        help="send a recording onto an endpoint (any protocol)",
        description="Send the messages of FILE to URL at the recorded pace.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rep.add_argument("file", metavar="FILE")
    rep.add_argument("url", metavar="URL")
    pace = rep.add_mutually_exclusive_group()
    pace.add_argument("--speed", type=float, default=1.0, metavar="N", help="N times faster")
    pace.add_argument("--max", action="store_true", help="as fast as possible")
    rep.add_argument(
        "--loop",
        type=int,
        nargs="?",
        const=0,
        default=1,
        metavar="N",
        help="play N times; without N until Ctrl-C",
    )
    rep.add_argument(
        "--direction",
        choices=("auto", "in", "out", "both"),
        default="auto",
        help="which recorded messages to send (auto: 'out' if any, else 'in')",
    )
    rep.add_argument("-t", "--topic", metavar="T", help="publish to T instead of recorded topics")
    rep.add_argument("-q", "--qos", type=int, choices=(0, 1, 2), help="QoS of the publishes")
    rep.add_argument("--json", action="store_true", help="one JSON line per message sent")
    add_credentials(rep)
    rep.set_defaults(handler=cmd_replay, url_command=True)


def _add_stats(sub: argparse._SubParsersAction[Any]) -> None:
    st = sub.add_parser(
        "stats",
        help="live statistics of endpoints (a table on a terminal, JSON lines otherwise)",
        description="Watch URLs and show messages, bytes, errors, timeouts and round trips.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    st.add_argument("urls", metavar="URL", nargs="+")
    st.add_argument("-t", "--topic", action="append", metavar="T", help="pub/sub filter (#)")
    st.add_argument("--probe", metavar="TEXT", help="send TEXT (\\n ok) and time each reply")
    st.add_argument(
        "--probe-every", type=float, default=0.1, metavar="S", help="probe every S s (0.1)"
    )
    st.add_argument("--interval", type=float, default=1.0, metavar="S", help="refresh every S s")
    st.add_argument("--for", dest="duration", type=float, metavar="S", help="stop after S s")
    st.add_argument("-C", "--count", type=int, metavar="N", help="stop after N refreshes")
    st.add_argument("--json", action="store_true", default=None, help="JSON lines")
    st.add_argument("--table", dest="json", action="store_false", help="a refreshing table")
    st.add_argument(
        "--prometheus",
        type=int,
        metavar="PORT",
        help="also serve /metrics on 127.0.0.1:PORT (the prometheus extra)",
    )
    add_credentials(st)
    st.set_defaults(handler=cmd_stats, url_command=True)


class _Watcher:
    """Reads (or subscribes) on one tapped endpoint in a thread until stopped."""

    def __init__(self, proto: Any, topics: list[str], probe: bytes | None, stop: threading.Event):
        self.proto = proto
        self.topics = topics
        self.probe = probe
        self.stop = stop
        self.error: BaseException | None = None
        self.stats: Stats | None = None
        self.every = 0.1
        self.seen = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        if isinstance(self.proto, PubSubProtocol):
            for topic in self.topics:
                self.proto.subscribe(topic, self._message)
            return
        self._thread.start()

    def _message(self, topic: str, payload: bytes) -> None:
        self.seen += 1

    def _run(self) -> None:
        proto = self.proto
        many = serves_many_peers(proto)
        try:
            while not self.stop.is_set():
                if self.probe is not None and not many:
                    self._probe_once()
                    continue
                item = proto.receive(timeout=0.2) if many else proto.read_within(0.2)
                if item:
                    self.seen += 1
        except ProtocolError as exc:
            self.error = exc
            self.stop.set()

    def _probe_once(self) -> None:
        """Send the probe, wait up to a second for the reply, then pause until the next."""
        started = time.monotonic()
        assert self.probe is not None
        self.proto.send(self.probe)
        if self.proto.read_within(1.0) is None and self.stats is not None:
            self.stats.record_timeout("no reply to the probe within 1 s")
        self.stop.wait(max(0.0, self.every - (time.monotonic() - started)))

    def join(self) -> None:
        if self._thread.is_alive():
            self._thread.join(5.0)


def cmd_record(args: argparse.Namespace) -> int:
    """Run ``record``.

    Args:
        args: The parsed arguments.

    Returns:
        The exit code (4 when ``--for`` passed before ``--count`` messages).
    """
    install_sigterm()
    proto = open_endpoint(args.url, args)
    recorder = Recorder(
        args.out,
        endpoints=[mask_url(args.url)],
        max_bytes=args.max_bytes,
        backups=args.backups,
        data_only=True,
    )
    Tap(recorder).install(proto, url=args.url)
    stop = threading.Event()
    watcher = _Watcher(proto, args.topic or ["#"], None, stop)
    deadline = Deadline(args.duration)
    try:
        with proto:
            watcher.start()
            logger.info("recording %s to %s", mask_url(args.url), args.out)
            while not stop.is_set() and not deadline.passed():
                if args.count is not None and recorder.events >= args.count:
                    break
                stop.wait(deadline.remaining(0.05))
            stop.set()
            watcher.join()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        recorder.close()
    if watcher.error is not None:
        raise watcher.error
    sys.stderr.write(f"recorded {recorder.events} messages to {args.out}\n")
    if args.count is not None and recorder.events < args.count:
        raise CommandTimeoutError(f"--for passed after {recorder.events} of {args.count} messages")
    return OK


def cmd_replay(args: argparse.Namespace) -> int:
    """Run ``replay``.

    Args:
        args: The parsed arguments.

    Returns:
        The exit code.
    """
    install_sigterm()
    _header, events = read_recording(args.file)
    chosen = select_events(events, args.direction)
    if not chosen:
        raise ProtocolUsageError(f"{args.file!r} has no {args.direction} messages to replay")
    proto = open_endpoint(args.url, args)

    def sent(event: Any) -> None:
        if args.json:
            record = {"t": event.t, "len": len(event.data), "topic": event.topic}
            sys.stdout.write(json.dumps(record) + "\n")
            sys.stdout.flush()

    try:
        with proto:
            count = replay(
                chosen,
                proto,
                speed=None if args.max else args.speed,
                loops=args.loop,
                topic=args.topic,
                qos=args.qos,
                sent=sent,
            )
    except KeyboardInterrupt:
        return OK
    sys.stderr.write(f"replayed {count} messages onto {mask_url(args.url)}\n")
    return OK


def cmd_stats(args: argparse.Namespace) -> int:
    """Run ``stats``.

    Args:
        args: The parsed arguments.

    Returns:
        The exit code.
    """
    install_sigterm()
    as_json = (not sys.stdout.isatty()) if args.json is None else args.json
    probe = decode_escapes(args.probe) if args.probe else None
    stop = threading.Event()
    opened: list[tuple[Any, Stats, _Watcher]] = []
    server = None
    try:
        for url in args.urls:
            proto = open_endpoint(url, args)
            stats = Stats(mask_url(url), proto)
            Tap(stats).install(proto, url=url)
            proto.connect()
            watcher = _Watcher(proto, args.topic or ["#"], probe, stop)
            watcher.stats, watcher.every = stats, args.probe_every
            opened.append((proto, stats, watcher))
            watcher.start()
        if args.prometheus is not None:
            from eq1_network.observe.prometheus import serve_metrics

            server, _ = serve_metrics(lambda: [s for _, s, _ in opened], args.prometheus)
            logger.info("serving /metrics on 127.0.0.1:%d", args.prometheus)
        logger.info("watching %s", " ".join(mask_url(url) for url in args.urls))
        _refresh_loop(args, opened, stop, as_json)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        for proto, _, watcher in opened:
            watcher.join()
            proto.disconnect()
        if server is not None:
            server.shutdown()
    for _, _, watcher in opened:
        if watcher.error is not None:
            raise watcher.error
    return OK


def _refresh_loop(
    args: argparse.Namespace, opened: list[Any], stop: threading.Event, as_json: bool
) -> None:
    deadline = Deadline(args.duration)
    refreshes = 0
    while not stop.is_set():
        stop.wait(
            min(args.interval, deadline.remaining(args.interval)) if deadline.at else args.interval
        )
        snapshots = [stats.snapshot() for _, stats, _ in opened]
        report(snapshots)
        if as_json:
            for snap in snapshots:
                sys.stdout.write(json.dumps(snap.as_dict()) + "\n")
        else:
            sys.stdout.write("\x1b[H\x1b[2J" + _table(snapshots) + "\n")
        sys.stdout.flush()
        refreshes += 1
        if deadline.passed() or (args.count is not None and refreshes >= args.count):
            return


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.2f}"


def _table(snapshots: list[Any]) -> str:
    head = ("ENDPOINT", "IN", "OUT", "BYTES IN", "BYTES OUT", "ERR", "TMO", "P50 ms", "P99 ms")
    rows = [head] + [
        (
            s.endpoint,
            str(s.messages_in),
            str(s.messages_out),
            str(s.bytes_in),
            str(s.bytes_out),
            str(s.errors),
            str(s.timeouts),
            _ms(s.latency_p50),
            _ms(s.latency_p99),
        )
        for s in snapshots
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip() for r in rows]
    errors = [f"{s.endpoint}: last error: {s.last_error}" for s in snapshots if s.last_error]
    return "\n".join(lines + errors)

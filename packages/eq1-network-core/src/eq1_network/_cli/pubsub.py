"""``pub`` and ``sub``: publish/subscribe endpoints with mosquitto-style flags."""

from __future__ import annotations

import argparse
import json
import queue
import sys
import time
from datetime import datetime, timezone
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
from eq1_network.common.exceptions import ProtocolUsageError
from eq1_network.common.logging import get_logger
from eq1_network.interfaces.protocol import PubSubProtocol

__all__ = ["add_pubsub_commands", "format_message"]

logger = get_logger(__name__)

FORMAT_HELP = """\
--format tokens (as mosquitto_sub's -F):
  %t topic   %p payload   %x payload as hex   %j JSON object   %l length
  %q QoS     %r retain (0/1)   %U Unix time   %I ISO 8601 time   %% a percent sign
"""


def add_pubsub_commands(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``pub`` and ``sub``.

    Args:
        sub: The sub-command parsers.
    """
    fmt = argparse.RawDescriptionHelpFormatter
    pub = sub.add_parser(
        "pub",
        help="publish to a topic (mqtt://, mqtts://, memory://)",
        description="Publish MESSAGE (or a file, or each line of stdin) to TOPIC.",
        epilog=EXIT_CODES,
        formatter_class=fmt,
    )
    pub.add_argument("url", metavar="URL")
    pub.add_argument("topic", metavar="TOPIC")
    pub.add_argument("message", metavar="MESSAGE", nargs="?", help="the payload text")
    pub.add_argument("-f", "--file", metavar="F", help="publish the content of file F")
    pub.add_argument("-l", "--stdin-lines", action="store_true", help="one message per line")
    pub.add_argument("-n", "--null-message", action="store_true", help="an empty payload")
    pub.add_argument("-e", "--escapes", action="store_true", help="decode \\n \\xNN in MESSAGE")
    pub.add_argument("-q", "--qos", type=int, choices=(0, 1, 2), default=0)
    pub.add_argument("-r", "--retain", action="store_true", help="ask the broker to retain it")
    pub.add_argument("--repeat", type=int, default=1, metavar="N", help="publish N times")
    pub.add_argument("--interval", type=float, default=0.0, metavar="S", help="pause between")
    pub.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for delivery")
    pub.add_argument("--json", action="store_true", help="one JSON line per message published")
    add_credentials(pub)
    pub.set_defaults(handler=cmd_pub, url_command=True)

    sub_ = sub.add_parser(
        "sub",
        help="print messages of topic filters",
        description="Subscribe to each TOPIC filter and print the messages.",
        epilog=FORMAT_HELP + "\n" + EXIT_CODES,
        formatter_class=fmt,
    )
    sub_.add_argument("url", metavar="URL")
    sub_.add_argument("topics", metavar="TOPIC", nargs="+")
    sub_.add_argument("-q", "--qos", type=int, choices=(0, 1, 2), default=0)
    sub_.add_argument("-C", "--count", type=int, metavar="N", help="stop after N messages")
    sub_.add_argument(
        "-W", "--timeout", type=float, metavar="S", help="stop after S seconds (exit 4 if short)"
    )
    sub_.add_argument("-v", "--verbose-topic", action="store_true", help="print 'topic payload'")
    sub_.add_argument(
        "-R", "--no-retained", action="store_true", help="skip retained messages (MQTT)"
    )
    sub_.add_argument(
        "--retained-only",
        action="store_true",
        help="print retained messages only; stop at the first new one (MQTT)",
    )
    sub_.add_argument("-F", "--format", metavar="FMT", help="output format, see below")
    sub_.add_argument("--json", action="store_true", help="one JSON object per message (%%j)")
    sub_.add_argument("-x", "--show-hex", action="store_true", help="payload as hex (%%x)")
    add_credentials(sub_)
    sub_.set_defaults(handler=cmd_sub, url_command=True)


def _payloads(args: argparse.Namespace) -> list[bytes]:
    given = [args.message is not None, bool(args.file), args.stdin_lines, args.null_message]
    if sum(given) != 1:
        raise ProtocolUsageError(
            "give exactly one payload: MESSAGE, --file F, --stdin-lines or --null-message"
        )
    if args.file:
        with open(args.file, "rb") as file:
            return [file.read()]
    if args.stdin_lines:
        return [line.rstrip(b"\r\n") for line in sys.stdin.buffer]
    if args.null_message:
        return [b""]
    text: str = args.message
    return [decode_escapes(text) if args.escapes else text.encode("utf-8")]


def cmd_pub(args: argparse.Namespace) -> int:
    """Run ``pub``: publish and wait until each message is delivered as its QoS promises.

    Args:
        args: The parsed arguments.

    Returns:
        The exit code (4 if a delivery was not confirmed within ``--timeout``).
    """
    install_sigterm()
    payloads = _payloads(args)
    proto = open_endpoint(args.url, args, kind=PubSubProtocol)
    with proto:
        n = 0
        for _ in range(max(1, args.repeat)):
            for payload in payloads:
                if n and args.interval > 0:
                    time.sleep(args.interval)
                handle = proto.publish(args.topic, payload, qos=args.qos, retain=args.retain)
                if not handle.wait(args.timeout):
                    raise CommandTimeoutError(
                        f"publish {n + 1} to {args.topic!r} not confirmed within {args.timeout} s"
                    )
                n += 1
                if args.json:
                    record = {"n": n, "topic": args.topic, "len": len(payload), "qos": args.qos}
                    sys.stdout.write(json.dumps(record) + "\n")
    return OK


def format_message(
    fmt: str, topic: str, payload: bytes, qos: int | None, retain: bool | None
) -> str:
    """Render one message with ``--format`` tokens.

    Args:
        fmt: The format, e.g. ``"%t %p"``.
        topic: The topic.
        payload: The payload.
        qos: Its QoS, when known.
        retain: Its retain flag, when known.

    Returns:
        The text.
    """
    now = time.time()
    values = {
        "t": topic,
        "p": payload.decode("utf-8", "replace"),
        "x": payload.hex(),
        "l": str(len(payload)),
        "q": "" if qos is None else str(qos),
        "r": "" if retain is None else str(int(retain)),
        "U": f"{now:.6f}",
        "I": datetime.fromtimestamp(now, timezone.utc).isoformat(timespec="milliseconds"),
        "%": "%",
    }
    if "%j" in fmt:
        values["j"] = json.dumps(_json_message(topic, payload, qos, retain, now))
    out = []
    i = 0
    while i < len(fmt):
        if fmt[i] == "%" and i + 1 < len(fmt) and fmt[i + 1] in values:
            out.append(values[fmt[i + 1]])
            i += 2
        else:
            out.append(fmt[i])
            i += 1
    return "".join(out)


def _json_message(
    topic: str, payload: bytes, qos: int | None, retain: bool | None, now: float
) -> dict[str, Any]:
    return {
        "ts": round(now, 6),
        "topic": topic,
        "qos": qos,
        "retain": retain,
        "len": len(payload),
        "text": payload.decode("utf-8", "replace"),
        "hex": payload.hex(),
    }


def _output_format(args: argparse.Namespace) -> str:
    if args.format:
        return str(decode_escapes(args.format).decode("utf-8"))
    if args.json:
        return "%j"
    body = "%x" if args.show_hex else "%p"
    return f"%t {body}" if args.verbose_topic else body


def cmd_sub(args: argparse.Namespace) -> int:
    """Run ``sub``.

    Args:
        args: The parsed arguments.

    Returns:
        The exit code: 4 when ``-W`` passed before ``-C`` messages (or before any
        message, without ``-C``); Ctrl-C ends it with 0.
    """
    install_sigterm()
    fmt = _output_format(args)
    proto = open_endpoint(args.url, args, kind=PubSubProtocol)
    inbox: queue.Queue[tuple[str, bytes, int | None, bool | None]] = queue.Queue()
    callback = _callback(proto, inbox)
    deadline = Deadline(args.timeout)
    seen = 0
    try:
        with proto:
            for topic in args.topics:
                proto.subscribe(topic, callback, qos=args.qos)
            logger.info("subscribed to %s", " ".join(args.topics))
            while args.count is None or seen < args.count:
                if deadline.passed():
                    break
                try:
                    topic, payload, qos, retain = inbox.get(timeout=deadline.remaining())
                except queue.Empty:
                    continue
                if args.retained_only and retain is False:
                    return OK
                if args.no_retained and retain:
                    continue
                seen += 1
                sys.stdout.write(format_message(fmt, topic, payload, qos, retain) + "\n")
                sys.stdout.flush()
    except KeyboardInterrupt:
        return OK
    wanted = args.count or 1
    if args.timeout is not None and seen < wanted and not args.retained_only:
        raise CommandTimeoutError(f"-W {args.timeout} s passed after {seen} of {wanted} messages")
    return OK


def _callback(proto: Any, inbox: queue.Queue[Any]) -> Any:
    """A subscription callback: MQTT's message form (with QoS and retain) where it exists."""
    if _message_callbacks(proto):

        def on_message(message: Any) -> None:
            inbox.put((message.topic, bytes(message.payload), message.qos, message.retain))

        return on_message

    def on_payload(topic: str, payload: bytes) -> None:
        inbox.put((topic, bytes(payload), None, None))

    return on_payload


def _message_callbacks(proto: Any) -> bool:
    """Tell whether the client hands one-argument callbacks a message with QoS and retain."""
    module = type(proto).__module__
    if not module.startswith("eq1_network.protocols.mqtt"):
        return False
    return hasattr(sys.modules.get("eq1_network.protocols.mqtt"), "MQTTMessage")

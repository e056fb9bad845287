"""The ``eq1-network`` command line (standard :mod:`argparse`).

Plugins add sub-commands through the ``eq1_network_add_cli_commands`` hook.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from eq1_network import __version__
from eq1_network.common.exceptions import ProtocolError
from eq1_network.common.logging import configure_logging, get_logger
from eq1_network.plugins.registry import ProtocolManager

__all__ = ["build_parser", "exit_code", "main"]

logger = get_logger(__name__)

Handler = Callable[[argparse.Namespace], int]


def _out(text: str, stream: TextIO | None = None) -> None:
    (stream or sys.stdout).write(text + "\n")


def _cmd_plugins(args: argparse.Namespace) -> int:
    specs = ProtocolManager.specs()
    rows = [("NAME", "KIND", "DISTRIBUTION", "VERSION", "SUMMARY")]
    rows += [(s.name, s.kind, s.distribution or "-", s.version or "-", s.summary) for s in specs]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:4])]
        _out("  ".join([*cells, row[4]]).rstrip())
    for error in ProtocolManager.errors():
        _out(f"warning: {error}", sys.stderr)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from eq1_network.demo import run_demo

    result = run_demo(timeout=args.timeout)
    for line in result.lines():
        _out(line)
    _out("demo OK")
    return 0


def exit_code(exc: BaseException) -> int:
    """Return the exit code every ``eq1-network`` command gives for an error.

    The table is in ``eq1-network --help`` and docs/cli.md. A plugin's command maps
    its own errors first (a protocol's refusal as 5, say) and calls this for the rest,
    so that every command keeps the one table.

    Args:
        exc: The error a command raised.

    Returns:
        The exit code.
    """
    from eq1_network._cli.common import exit_code as table_code

    return table_code(exc)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser, including plugin sub-commands.

    Returns:
        The parser.
    """
    from eq1_network._cli.common import EXIT_CODES

    parser = argparse.ArgumentParser(
        prog="eq1-network",
        description="EQ-1 Network: plugin-based communication framework.",
        epilog="Endpoints are URLs (tcp://, tls://, tcp-listen://, udp://, serial://, "
        "mqtt://, loop://, memory://...); see docs/urls.md.\n\n" + EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    plugins = sub.add_parser("plugins", help="list installed protocols")
    plugins.set_defaults(handler=_cmd_plugins)
    demo = sub.add_parser("demo", help="request/response and pub/sub round trips in-process")
    demo.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for replies")
    demo.set_defaults(handler=_cmd_demo)
    _add_url_commands(sub)
    _add_plugin_commands(sub)
    return parser


def _add_url_commands(sub: argparse._SubParsersAction[Any]) -> None:
    from eq1_network._cli.reqres import add_reqres_commands

    add_reqres_commands(sub)
    from eq1_network._cli.pubsub import add_pubsub_commands

    add_pubsub_commands(sub)
    from eq1_network._cli.observe import add_observe_commands

    add_observe_commands(sub)
    from eq1_network._cli.term import add_term_command

    add_term_command(sub)
    from eq1_network._cli.files import add_file_commands

    add_file_commands(sub)


def _add_plugin_commands(sub: argparse._SubParsersAction[Any]) -> None:
    hook = ProtocolManager.registry.plugin_manager().hook.eq1_network_add_cli_commands
    for impl in hook.get_hookimpls():
        try:
            impl.function(subparsers=sub)
        except Exception:
            logger.exception("plugin %s failed to add CLI commands", impl.plugin_name)


def _not_installed(parser: argparse.ArgumentParser, argv: list[str]) -> str | None:
    """Say which distribution to install when ``argv`` names a missing first-party command."""
    from eq1_network.plugins._availability import FIRST_PARTY_NAMES, install_hint

    words = [word for word in argv if not word.startswith("-")]
    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]  # noqa: SLF001 - argparse has no public way to list sub-commands
    if not words or not subparsers or words[0] in subparsers[0].choices:
        return None
    distribution = FIRST_PARTY_NAMES.get(words[0])
    if distribution is None:
        return None
    return (
        f"the {words[0]!r} command comes with {distribution}, which is not installed; "
        f"install it with: {install_hint(distribution)}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Args:
        argv: Arguments without the program name; ``sys.argv[1:]`` when ``None``.

    Returns:
        The process exit code.
    """
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    missing = _not_installed(parser, argv)
    if missing is not None:
        _out(f"error: {missing}", sys.stderr)
        return 2
    args = parser.parse_args(argv)
    if args.verbose:
        configure_logging(logging.DEBUG if args.verbose > 1 else logging.INFO)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    if getattr(args, "url_command", False):
        from eq1_network._cli.common import guarded

        return guarded(handler, args)
    try:
        return handler(args)
    except ProtocolError as exc:
        _out(f"error: {exc}", sys.stderr)
        return 1

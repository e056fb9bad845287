"""What ``import eq1_network`` and a protocol lookup load, and the NullHandler guarantee."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
import textwrap

import pytest

from eq1_network.common.logging import LazyLogger, get_logger

_HEAVY = {"dataclasses", "inspect", "logging", "pluggy"}
"""Modules a protocol lookup does without (each costs milliseconds to import)."""


def _run_isolated(body: str) -> subprocess.CompletedProcess[str]:
    """Run ``body`` in a fresh interpreter that starts without ``site`` (``-I -S``).

    Nothing of the environment's start-up (``.pth`` files, ``sitecustomize``) runs;
    the parent's ``sys.path`` is copied so that the same distributions are found. The
    code first checks that none of :data:`_HEAVY` is loaded yet, so their absence
    afterwards is the library's doing.
    """
    code = (
        "import sys\n"
        f"sys.path[:0] = {[p for p in sys.path if p]!r}\n"
        f"assert not {_HEAVY!r} & set(sys.modules), sorted(sys.modules)\n" + textwrap.dedent(body)
    )
    return subprocess.run(
        [sys.executable, "-I", "-S", "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_lookup_loads_neither_logging_nor_pluggy_nor_dataclasses() -> None:
    done = _run_isolated(
        f"""
        HEAVY = {_HEAVY!r}
        import eq1_network
        assert eq1_network.get_protocol("loopback").__name__ == "LoopbackProtocol"
        assert "loopback" in eq1_network.ProtocolManager.available()
        assert eq1_network.ProtocolManager.errors() == []
        print(sorted(HEAVY & set(sys.modules)))
        eq1_network.ProtocolManager.registry.plugin_manager()  # the control: pluggy now
        print("pluggy" in sys.modules)
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[]", "True"]


_EMIT = """
from eq1_network.plugins import registry as registry_module

class BrokenEntryPoint:
    name, value, dist = "broken", "broken_module", None
    def load(self):
        raise ImportError("no module named broken_module")

registry_module.protocol_entry_points = lambda: [BrokenEntryPoint()]
errors = registry_module.ProtocolRegistry().errors  # logs a WARNING per error
assert len(errors) == 1 and "failed to import" in str(errors[0]), errors
from eq1_network.plugins._loading import logger
logger.error("an error record")
import logging
library = logging.getLogger("eq1_network")
assert any(type(h) is logging.NullHandler for h in library.handlers), library.handlers
library.handlers.clear()  # the control: without the NullHandler, the last resort prints
logger.warning("control")
"""


@pytest.mark.parametrize("logging_first", [False, True], ids=["library-first", "logging-first"])
def test_nothing_is_printed_unless_logging_is_configured(logging_first: bool) -> None:
    first = "import logging\nimport eq1_network\n" if logging_first else "import eq1_network\n"
    done = _run_isolated(first + 'eq1_network.get_protocol("loopback")\n' + _EMIT)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "control\n"


def test_logging_imported_first_gets_the_null_handler_at_import() -> None:
    done = _run_isolated(
        """
        import logging
        import eq1_network
        handlers = logging.getLogger("eq1_network").handlers
        assert [type(h) for h in handlers] == [logging.NullHandler], handlers
        """
    )
    assert done.returncode == 0, done.stderr


def test_get_logger_installs_one_null_handler() -> None:
    root = logging.getLogger("eq1_network")
    assert get_logger("eq1_network.tests.a") is logging.getLogger("eq1_network.tests.a")
    get_logger("eq1_network.tests.b")
    assert sum(type(h) is logging.NullHandler for h in root.handlers) == 1


def test_lazy_logger_records_the_callers_place() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(funcName)s %(lineno)d %(message)s"))
    target = logging.getLogger("eq1_network.tests.lazy")
    target.addHandler(handler)
    target.setLevel(logging.DEBUG)
    lazy = LazyLogger("eq1_network.tests.lazy")
    try:
        line = sys._getframe().f_lineno + 1
        lazy.debug("d %s", 1)
        lazy.warning("w")
        lazy.log(logging.INFO, "i")
        try:
            raise ValueError("boom")
        except ValueError:
            lazy.exception("e")
        assert lazy.isEnabledFor(logging.DEBUG)
    finally:
        target.removeHandler(handler)
        target.setLevel(logging.NOTSET)
    name = "test_lazy_logger_records_the_callers_place"
    lines = stream.getvalue().splitlines()
    assert lines[:3] == [
        f"DEBUG {name} {line} d 1",
        f"WARNING {name} {line + 1} w",
        f"INFO {name} {line + 2} i",
    ]
    assert lines[3] == f"ERROR {name} {line + 6} e" and "ValueError: boom" in lines[-1]

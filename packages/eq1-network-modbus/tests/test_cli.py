"""``eq1-network modbus read|write|serve``, run as a real command against independent peers.

Reads and writes go to the libmodbus and pymodbus servers of ``modbus_peers.py`` (their
data pattern is checked value by value); ``serve`` is polled by mbpoll and by our own
``read``. Every exit code has a test: 0, 1 (a malformed answer), 2 (bad arguments,
URLs and device files, all refused before anything is sent), 3 (nothing listening,
missing serial port, port in use), 4 (a silent unit), 5 (an exception response).
"""

from __future__ import annotations

import json
import signal
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from modbus_peers import (
    ModbusPeer,
    coils,
    discrete_inputs,
    holding_registers,
    input_registers,
    mbpoll_argv,
    parse_mbpoll,
    run_mbpoll,
)

from eq1_network.testing import DEFAULT_TIMEOUT, PeerProcess, recv_exactly, wait_until

HOST = "127.0.0.1"
RUN_TIMEOUT = 60.0
CLI = [sys.executable, "-m", "eq1_network", "modbus"]


def modbus(*argv: object) -> subprocess.CompletedProcess[str]:
    """Run ``python -m eq1_network modbus ARGV`` to its end."""
    return subprocess.run(
        [*CLI, *(str(a) for a in argv)],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )


def lines(result: subprocess.CompletedProcess[str]) -> dict[int, str]:
    """The ``address: value`` lines of a successful read."""
    assert result.returncode == 0, result.stderr
    found: dict[int, str] = {}
    for line in result.stdout.splitlines():
        if line:
            address, _, value = line.partition(": ")
            found[int(address)] = value
    return found


def failed(result: subprocess.CompletedProcess[str], code: int) -> str:
    """Check the exit code and the one-line error on standard error; return that line."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    errors = result.stderr.strip().splitlines()
    if result.stderr.startswith("usage:"):  # argparse: usage, then "PROG: error: ..."
        assert code == 2 and ": error: " in errors[-1], result.stderr
    else:
        assert len(errors) == 1 and errors[0].startswith("error: "), result.stderr
    return errors[-1]


def url(peer: ModbusPeer, *, unit: int = 1) -> str:
    if peer.device is not None:
        scheme = "modbus+rtu" if peer.framer == "rtu" else "modbus+ascii"
        return f"{scheme}://{peer.device}?baudrate=19200&unit={unit}"
    host, port = peer.address
    return f"modbus://{host}:{port}?unit={unit}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def bits(values: list[bool]) -> dict[int, str]:
    return {index: "1" if value else "0" for index, value in enumerate(values)}


def numbers(values: list[int], start: int = 0) -> dict[int, str]:
    return {start + index: str(value) for index, value in enumerate(values)}


# --- read --------------------------------------------------------------------------------


def test_read_holding_registers_from_libmodbus(libmodbus_tcp: ModbusPeer) -> None:
    result = modbus("read", url(libmodbus_tcp), "holding", 5, 10)
    assert lines(result) == numbers(holding_registers(1, 5, 10), 5)
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ("coils", coils(2, 0, 20)),
        ("discrete", discrete_inputs(2, 0, 20)),
        ("holding", holding_registers(2, 0, 20)),
        ("input", input_registers(2, 0, 20)),
    ],
)
def test_read_each_table_of_unit_2_from_pymodbus_as_json(
    pymodbus_tcp: ModbusPeer, table: str, expected: list[Any]
) -> None:
    result = modbus("read", url(pymodbus_tcp), table, 0, 20, "--unit", 2, "--json")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["values"] == expected
    assert record["addresses"] == list(range(20))
    assert (record["unit"], record["table"], record["address"]) == (2, table, 0)
    assert record["type"] == ("bool" if table in ("coils", "discrete") else "uint16")


@pytest.mark.parametrize("table", ["coils", "input"])
def test_read_over_rtu_from_pymodbus(pymodbus_rtu: ModbusPeer, table: str) -> None:
    result = modbus("read", url(pymodbus_rtu, unit=2), table, 3, 12)
    expected = coils(2, 3, 12) if table == "coils" else input_registers(2, 3, 12)
    shown = bits(expected) if table == "coils" else numbers(expected)
    assert lines(result) == {3 + index: value for index, value in shown.items()}


def test_read_over_ascii_from_pymodbus(pymodbus_ascii: ModbusPeer) -> None:
    result = modbus("read", url(pymodbus_ascii), "holding", 0, 4)
    assert lines(result) == numbers(holding_registers(1, 0, 4))


def _registers(values: list[float], code: str, order: str) -> list[int]:
    """Registers of ``values`` made with struct alone (independent of the values module)."""
    out: list[int] = []
    for value in values:
        raw = struct.pack(">" + code, value)
        words = [raw[i : i + 2] for i in range(0, len(raw), 2)]
        if order in ("CDAB", "DCBA"):
            words.reverse()
        if order in ("BADC", "DCBA"):
            words = [word[::-1] for word in words]
        out += [int.from_bytes(word, "big") for word in words]
    return out


@pytest.mark.parametrize(
    ("value_type", "code", "order", "values", "shown"),
    [
        ("float32", "f", "CDAB", [1.5, -2.25, 123.456], ["1.5", "-2.25", "123.456"]),
        ("float32", "f", "ABCD", [0.1], ["0.1"]),
        ("int32", "i", "BADC", [-2, 70000], ["-2", "70000"]),
        ("uint64", "Q", "DCBA", [2**64 - 1], [str(2**64 - 1)]),
        ("float64", "d", "ABCD", [-1e300], ["-1e+300"]),
        ("int16", "h", "ABCD", [-1, 0x7FFF], ["-1", "32767"]),
    ],
)
def test_typed_write_then_read_round_trip_on_pymodbus(
    pymodbus_tcp: ModbusPeer,
    value_type: str,
    code: str,
    order: str,
    values: list[float],
    shown: list[str],
) -> None:
    target = url(pymodbus_tcp)
    typed = ("--type", value_type, "--order", order)
    written = modbus("write", target, "registers", 40, *typed, "--", *values)
    registers = _registers(values, code, order)
    assert written.returncode == 0, written.stderr
    assert written.stdout.strip() == f"wrote {len(registers)} registers at 40"
    assert lines(modbus("read", target, "holding", 40, len(registers))) == numbers(registers, 40)
    width = len(registers) // len(values)
    read = lines(modbus("read", target, "holding", 40, len(values), *typed))
    assert read == {40 + index * width: text for index, text in enumerate(shown)}


def test_read_repeat_prints_every_poll(libmodbus_tcp: ModbusPeer) -> None:
    target = url(libmodbus_tcp)
    result = modbus("read", target, "input", 0, 2, "--repeat", 3, "--interval", 0.05, "--json")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["values"] for r in records] == [input_registers(1, 0, 2)] * 3
    text = modbus("read", target, "coils", 0, 2, "--repeat", 2, "--interval", 0.05)
    assert text.returncode == 0, text.stderr
    assert text.stdout == "0: 1\n1: 0\n\n0: 1\n1: 0\n"


# --- write -------------------------------------------------------------------------------


def test_writes_are_seen_by_mbpoll(libmodbus_tcp: ModbusPeer, mbpoll_exe: str) -> None:
    host, port = libmodbus_tcp.address
    target = url(libmodbus_tcp)
    assert modbus("write", target, "register", 3, "0x1234").stdout == "wrote 1 register at 3\n"
    assert modbus("write", target, "registers", 10, 7, "0xFFFF", 0).returncode == 0
    assert modbus("write", target, "coil", 1, "on").returncode == 0
    assert modbus("write", target, "coils", 20, "1", "0", "true", "off", "ON").returncode == 0

    def poll(table: str, address: int, count: int) -> dict[int, int]:
        argv = mbpoll_argv(mbpoll_exe, host, port=port, table=table, address=address, count=count)
        result = run_mbpoll(argv)
        assert result.returncode == 0, result.stderr
        return parse_mbpoll(result.stdout)

    assert poll("holding", 3, 1) == {3: 0x1234}
    assert poll("holding", 10, 3) == {10: 7, 11: 0xFFFF, 12: 0}
    assert poll("coils", 1, 1) == {1: 1}
    assert poll("coils", 20, 5) == {20: 1, 21: 0, 22: 1, 23: 0, 24: 1}


def test_write_over_rtu_is_read_back(pymodbus_rtu: ModbusPeer) -> None:
    target = url(pymodbus_rtu, unit=2)
    assert modbus("write", target, "register", 7, 65535).returncode == 0
    assert modbus("write", target, "coils", 0, 0, 0, 0).returncode == 0
    assert lines(modbus("read", target, "holding", 7)) == {7: "65535"}
    assert lines(modbus("read", target, "coils", 0, 3)) == {0: "0", 1: "0", 2: "0"}


# --- exit codes --------------------------------------------------------------------------


def test_exception_response_exits_5_with_its_name(libmodbus_tcp: ModbusPeer) -> None:
    error = failed(modbus("read", url(libmodbus_tcp), "holding", 150, 2), 5)
    assert "ILLEGAL DATA ADDRESS" in error
    error = failed(modbus("write", url(libmodbus_tcp), "register", 100, 1), 5)
    assert "ILLEGAL DATA ADDRESS" in error


def test_silent_unit_exits_4(pymodbus_rtu: ModbusPeer) -> None:
    error = failed(
        modbus("read", url(pymodbus_rtu), "holding", 0, "--unit", 7, "--timeout", 0.2), 4
    )
    assert "unit 7" in error or "timed out" in error or "timeout" in error.lower()


def test_nothing_listening_exits_3() -> None:
    error = failed(modbus("read", f"modbus://{HOST}:{free_port()}", "holding", 0), 3)
    assert "connect" in error


def test_missing_serial_port_exits_3(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-tty"
    failed(modbus("read", f"modbus+rtu://{missing}", "coils", 0), 3)
    failed(modbus("write", f"modbus+ascii://{missing}", "coil", 0, 1), 3)


class MalformedServer:
    """A TCP peer that answers every FC 03 request with a byte count that does not fit."""

    def __init__(self) -> None:
        self.sock = socket.create_server((HOST, 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            conn.settimeout(DEFAULT_TIMEOUT)
            while True:
                try:
                    header = recv_exactly(conn, 7)
                    recv_exactly(conn, int.from_bytes(header[4:6], "big") - 1)
                except (OSError, EOFError, AssertionError):
                    return
                pdu = bytes.fromhex("03 05 00 01 00 02")
                conn.sendall(header[:4] + (len(pdu) + 1).to_bytes(2, "big") + header[6:] + pdu)

    def close(self) -> None:
        self.sock.close()
        self.thread.join(DEFAULT_TIMEOUT)


@pytest.fixture
def malformed() -> Iterator[MalformedServer]:
    server = MalformedServer()
    yield server
    server.close()


def test_malformed_answer_exits_5(malformed: MalformedServer) -> None:
    error = failed(modbus("read", f"modbus://{HOST}:{malformed.port}", "holding", 0, 2), 5)
    assert "byte count" in error


# Each of these would exit 3 if it reached the network: nothing listens on port 1.
DEAD = f"modbus://{HOST}:1"


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (("read", DEAD, "holding", 0, 126), "at most 125"),
        (("read", DEAD, "input", 0, 63, "--type", "float32"), "126 registers"),
        (("read", DEAD, "coils", 0, 1, "--type", "int16"), "--type"),
        (("read", DEAD, "holding", 70000), "address"),
        (("read", DEAD, "holding", 0, 0), "count"),
        (("read", DEAD, "holding", 0, "--type", "int8"), "invalid choice"),
        (("read", DEAD, "holding", 0, "--unit", 300), "unit"),
        (("read", DEAD, "holding", 0, "--timeout", 0), "seconds"),
        (("read", "nosuch://127.0.0.1:1", "holding", 0), "nosuch"),
        (("read", f"{DEAD}?bogus=1", "holding", 0), "bogus"),
        (("read", "tcp://127.0.0.1:1", "holding", 0), "not a Modbus URL"),
        (("write", DEAD, "coil", 0, "maybe"), "on/off"),
        (("write", DEAD, "coil", 0, 1, 0), "'coils'"),
        (("write", DEAD, "register", 0, 70000), "0..65535"),
        (("write", DEAD, "registers", 0, "12abc"), "not an integer"),
        (("write", DEAD, "register", 0, 1.5, "--type", "float32"), "'registers'"),
        (("write", DEAD, "registers", 0, "x", "--type", "float32"), "not a number"),
        (("write", DEAD, "coils", 0, 1, "--order", "CDAB"), "--order"),
        (("write", DEAD, "registers", 0, 40000, "--type", "int16"), "int16"),
        (("write",), "required"),
    ],
)
def test_bad_arguments_exit_2_before_connecting(argv: tuple[object, ...], says: str) -> None:
    assert says in failed(modbus(*argv), 2)


def test_modbus_without_an_action_prints_usage_and_exits_2() -> None:
    result = modbus()
    assert result.returncode == 2
    assert "usage: eq1-network modbus" in result.stdout + result.stderr


def test_help_documents_the_exit_codes() -> None:
    for argv in ((), ("read",), ("write",), ("serve",)):
        result = modbus(*argv, "--help")
        assert result.returncode == 0, result.stderr
        text = " ".join(result.stdout.split())
        for line in (
            "2 usage error",
            "3 could not connect",
            "4 timeout",
            "5 protocol error: a Modbus exception response",
            "6 authentication or TLS failure",
        ):
            assert line in text
    assert "JSON" in modbus("serve", "--help").stdout


def test_building_the_parser_imports_no_transport() -> None:
    """The hook is light: building the command line imports neither commands nor transports."""
    code = (
        "import sys\n"
        "from eq1_network.cli import build_parser\n"
        "build_parser().parse_args(['modbus', 'read', 'modbus://h', 'coils', '0'])\n"
        "heavy = [m for m in ('eq1_network.protocols.modbus.cli',\n"
        "                     'eq1_network.protocols.modbus.server',\n"
        "                     'eq1_network.protocols.modbus.transports') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "print('ok')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


# --- serve -------------------------------------------------------------------------------

DEVICE = {
    "units": {
        "1": {
            "coils": [1, 0, 1, 1],
            "discrete_inputs": 8,
            "holding_registers": [10, 20, 30, 0x3FC0, 0],
            "input_registers": 10,
            "identification": {"0": "Vendor", "1": "Product", "2": "1.0"},
        },
        "2": {"holding_registers": [200, 201], "coils": [0, 1]},
    }
}


class Served:
    """A running ``modbus serve`` process and where it listens."""

    def __init__(self, tmp_path: Path, url: str, device: object, *extra: str) -> None:
        self.file = tmp_path / "device.json"
        self.file.write_text(json.dumps(device))
        argv = [*CLI, "serve", url]
        argv += ["--device", str(self.file), *extra]
        self.process = PeerProcess(argv, log=tmp_path / "serve.log").start()
        try:
            self.where = self.process.wait_line(r"^listening on (\S+)$", DEFAULT_TIMEOUT).group(1)
        except AssertionError:
            self.process.stop()
            raise

    def stop(self) -> int | None:
        """Stop it with SIGTERM (by PID) and return its exit status."""
        self.process.stop()
        return self.process.poll()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    started: list[Served] = []

    def start(url: str, device: object = DEVICE, *extra: str) -> Served:
        served = Served(tmp_path, url, device, *extra)
        started.append(served)
        return served

    yield start
    for served in started:
        served.stop()


def test_serve_tcp_answers_mbpoll_and_read(serve: Any, mbpoll_exe: str) -> None:
    served = serve(f"modbus://{HOST}:0", DEVICE, "--duration", "120")
    host, _, port = served.where.rpartition(":")
    assert host == HOST and int(port) > 0
    target = f"modbus://{served.where}"

    def poll(**kwargs: Any) -> dict[int, int]:
        result = run_mbpoll(mbpoll_argv(mbpoll_exe, HOST, port=int(port), **kwargs))
        assert result.returncode == 0, result.stderr
        return parse_mbpoll(result.stdout)

    assert poll(table="holding", count=5) == {0: 10, 1: 20, 2: 30, 3: 0x3FC0, 4: 0}
    assert poll(table="coils", unit=2, count=2) == {0: 0, 1: 1}
    assert (
        run_mbpoll(
            mbpoll_argv(mbpoll_exe, HOST, port=int(port), address=4, values=(99,))
        ).returncode
        == 0
    )
    assert lines(modbus("read", target, "holding", 3, 2)) == {3: "16320", 4: "99"}
    assert lines(modbus("read", target, "holding", 0, 2, "--unit", 2)) == {0: "200", 1: "201"}
    assert lines(modbus("read", target, "input", 0, 3)) == {0: "0", 1: "0", 2: "0"}
    assert modbus("write", target, "coil", 1, "on").returncode == 0
    assert poll(table="coils", count=2) == {0: 1, 1: 1}
    error = failed(modbus("read", target, "holding", 0, "--unit", 9), 5)
    assert "GATEWAY TARGET" in error
    failed(modbus("read", target, "holding", 5), 5)
    assert served.stop() == 0
    assert "stopped: " in served.process.log_text()


def test_serve_stops_after_its_duration(serve: Any) -> None:
    served = serve(f"modbus+tcp://{HOST}:0", DEVICE, "--duration", "0.3")
    wait_until(lambda: served.process.poll() is not None, DEFAULT_TIMEOUT, what="serve to end")
    assert served.process.poll() == 0
    assert "stopped: 0 requests, 0 answers" in served.process.log_text()


def test_serve_rtu_answers_mbpoll_and_read(
    serve: Any, pty_pair_ends: tuple[Path, Path], mbpoll_exe: str
) -> None:
    server_end, client_end = pty_pair_ends
    served = serve(f"modbus+rtu://{server_end}?baudrate=19200")
    assert served.where == str(server_end)
    result = run_mbpoll(mbpoll_argv(mbpoll_exe, client_end, rtu=True, unit=2, count=2))
    assert result.returncode == 0, result.stderr
    assert parse_mbpoll(result.stdout) == {0: 200, 1: 201}
    target = f"modbus+rtu://{client_end}?baudrate=19200"
    assert lines(modbus("read", target, "coils", 0, 4)) == {0: "1", 1: "0", 2: "1", 3: "1"}
    assert modbus("write", target, "register", 1, 7, "--unit", 2).returncode == 0
    assert lines(modbus("read", target, "holding", 1, "--unit", 2)) == {1: "7"}
    failed(modbus("read", target, "holding", 0, "--unit", 5, "--timeout", 0.2), 4)


def test_serve_ascii_answers_read(serve: Any, pty_pair_ends: tuple[Path, Path]) -> None:
    server_end, client_end = pty_pair_ends
    serve(f"modbus+ascii://{server_end}")
    target = f"modbus+ascii://{client_end}"
    assert lines(modbus("read", target, "holding", 0, 3)) == {0: "10", 1: "20", 2: "30"}
    assert lines(modbus("read", target, "holding", 2, 1, "--type", "int16")) == {2: "30"}


def test_serve_port_in_use_exits_3(tmp_path: Path) -> None:
    device = tmp_path / "device.json"
    device.write_text(json.dumps(DEVICE))
    with socket.create_server((HOST, 0)) as taken:
        port = taken.getsockname()[1]
        failed(modbus("serve", f"modbus://{HOST}:{port}", "--device", device), 3)


def test_serve_missing_serial_port_exits_3(tmp_path: Path) -> None:
    device = tmp_path / "device.json"
    device.write_text(json.dumps(DEVICE))
    failed(modbus("serve", f"modbus+rtu://{tmp_path / 'no-such-tty'}", "--device", device), 3)


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ('{"units": {"1": {}}, "unit": 1}', "unknown key 'unit'"),
        ('{"units": {"1": {"coil": 10}}}', "unknown key 'coil'"),
        ('{"units": {"300": {}}}', "units.300"),
        ('{"units": {"x": {}}}', "units.x"),
        ('{"units": {}}', '"units"'),
        ("[]", "JSON object"),
        ('{"units": {"1": {"holding_registers": [1, 70000]}}}', "units.1"),
        ('{"units": {"1": {"holding_registers": "ten"}}}', "units.1.holding_registers"),
        ('{"units": {"1": {"coils": -1}}}', "units.1"),
        ('{"units": {"1": {"identification": {"0": 5}}}}', "units.1.identification.0"),
        ('{"units": {"1": {"identification": {"999": "x"}}}}', "units.1.identification.999"),
        ('{"units": {"1": {"server_id": 5}}}', "units.1.server_id"),
        ('{"units": {"1": {"exception_status": "x"}}}', "units.1.exception_status"),
        ('{"units": {"1": {}', "not valid JSON"),
    ],
)
def test_bad_device_file_exits_2_naming_the_key(tmp_path: Path, content: str, says: str) -> None:
    device = tmp_path / "device.json"
    device.write_text(content)
    error = failed(modbus("serve", f"modbus://{HOST}:0", "--device", device), 2)
    assert says in error and "device.json" in error


def test_serve_refuses_bad_urls_and_files(tmp_path: Path) -> None:
    device = tmp_path / "device.json"
    device.write_text(json.dumps(DEVICE))
    assert "unit" in failed(modbus("serve", f"modbus://{HOST}:0?unit=1", "--device", device), 2)
    assert "serve takes" in failed(modbus("serve", f"tcp://{HOST}:0", "--device", device), 2)
    assert "HOST:PORT" in failed(modbus("serve", "modbus:///dev/x", "--device", device), 2)
    serial_units = tmp_path / "serial.json"
    serial_units.write_text('{"units": {"0": {}}}')
    error = failed(modbus("serve", f"modbus+rtu://{tmp_path}/tty", "--device", serial_units), 2)
    assert "1..247" in error
    missing = failed(modbus("serve", f"modbus://{HOST}:0", "--device", tmp_path / "none.json"), 2)
    assert "cannot read" in missing


def test_serve_rtu_over_tcp_and_broadcast(serve: Any) -> None:
    served = serve(f"modbus+rtu+tcp://{HOST}:0")
    target = f"modbus+rtu+tcp://{served.where}"
    assert lines(modbus("read", target, "holding", 0, 2, "--unit", 2)) == {0: "200", 1: "201"}
    assert modbus("write", target, "register", 1, 5, "--unit", 0).returncode == 0
    assert lines(modbus("read", target, "holding", 1)) == {1: "5"}
    assert lines(modbus("read", target, "holding", 1, "--unit", 2)) == {1: "5"}


def test_non_finite_floats_are_json_strings(serve: Any) -> None:
    served = serve(f"modbus://{HOST}:0", {"units": {"1": {"holding_registers": 6}}})
    target = f"modbus://{served.where}"
    written = modbus(
        "write", target, "registers", 0, "--type", "float32", "--", "nan", "inf", "-inf"
    )
    assert written.returncode == 0, written.stderr
    result = modbus("read", target, "holding", 0, 3, "--type", "float32", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["values"] == ["NaN", "Infinity", "-Infinity"]
    assert lines(modbus("read", target, "holding", 0, 3, "--type", "float32")) == {
        0: "nan",
        2: "inf",
        4: "-inf",
    }


def test_ctrl_c_ends_serve_and_endless_polling_with_0(serve: Any) -> None:
    served = serve(f"modbus://{HOST}:0")
    poller = subprocess.Popen(
        [
            *CLI,
            "read",
            f"modbus://{served.where}",
            "holding",
            "0",
            "--repeat",
            "0",
            "--interval",
            "0.01",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert poller.stdout is not None
        assert poller.stdout.readline() == "0: 10\n"
        poller.send_signal(signal.SIGINT)
        _, errors = poller.communicate(timeout=RUN_TIMEOUT)
    finally:
        if poller.poll() is None:
            poller.kill()
            poller.wait(RUN_TIMEOUT)
    assert poller.returncode == 0, errors
    assert "Traceback" not in errors
    served.process.stop(signal.SIGINT)
    assert served.process.poll() == 0
    assert "stopped: " in served.process.log_text()


def test_ctrl_c_during_a_transaction_exits_130() -> None:
    with socket.create_server((HOST, 0)) as listener:
        port = listener.getsockname()[1]
        reader = subprocess.Popen(
            [*CLI, "read", f"modbus://{HOST}:{port}", "holding", "0", "--timeout", "60"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            listener.settimeout(RUN_TIMEOUT)
            conn, _ = listener.accept()
            with conn:
                assert len(recv_exactly(conn, 12)) == 12  # the request: now it waits
                reader.send_signal(signal.SIGINT)
                _, errors = reader.communicate(timeout=RUN_TIMEOUT)
        finally:
            if reader.poll() is None:
                reader.kill()
                reader.wait(RUN_TIMEOUT)
    assert reader.returncode == 130, errors
    assert errors.strip() == "error: interrupted"


def test_a_closed_pipe_ends_polling_quietly(libmodbus_tcp: ModbusPeer) -> None:
    poller = subprocess.Popen(
        [*CLI, "read", url(libmodbus_tcp), "holding", "0", "--repeat", "0", "--interval", "0.01"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert poller.stdout is not None and poller.stderr is not None
        assert poller.stdout.readline() == "0: 0\n"
        poller.stdout.close()  # as "| head -1" does
        assert poller.wait(RUN_TIMEOUT) == 0
        assert poller.stderr.read() == ""
    finally:
        if poller.poll() is None:
            poller.kill()
            poller.wait(RUN_TIMEOUT)


class SilentServer:
    """A TCP peer that reads Modbus TCP requests, counts them and never answers."""

    def __init__(self) -> None:
        self.sock = socket.create_server((HOST, 0))
        self.port = self.sock.getsockname()[1]
        self.requests = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            while True:
                try:
                    header = recv_exactly(conn, 7)
                    recv_exactly(conn, int.from_bytes(header[4:6], "big") - 1)
                except (OSError, AssertionError):
                    return
                self.requests += 1

    def close(self) -> None:
        self.sock.close()
        self.thread.join(DEFAULT_TIMEOUT)


@pytest.mark.parametrize(("query", "attempts"), [("", 1), ("?retries=2", 3)])
def test_timeout_exits_4_after_one_attempt_unless_the_url_retries(
    query: str, attempts: int
) -> None:
    server = SilentServer()
    try:
        target = f"modbus://{HOST}:{server.port}{query}"
        error = failed(modbus("read", target, "input", 0, "--timeout", 0.2), 4)
        server.thread.join(DEFAULT_TIMEOUT)  # the command has closed the connection
        assert server.requests == attempts, error
    finally:
        server.close()

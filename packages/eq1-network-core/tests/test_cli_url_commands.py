"""The URL commands of ``eq1-network`` end to end, as subprocesses against real peers."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eq1_network.testing import (
    EchoServer,
    PeerProcess,
    free_port,
    pty_pair,
    require_executable,
    wait_until,
)

pytestmark = pytest.mark.timeout(120)


def run(
    *args: str, stdin: bytes | None = None, timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m eq1_network ARGS`` and return the finished process."""
    return subprocess.run(
        [sys.executable, "-m", "eq1_network", *args],
        input=None if stdin is None else stdin.decode(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start(*args: str, ready: str) -> subprocess.Popen[str]:
    """Start ``python -m eq1_network -v ARGS`` and wait for ``ready`` in its log (stderr)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "eq1_network", "-v", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    found = threading.Event()
    lines: list[str] = []

    def watch() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if ready in line:
                found.set()

    threading.Thread(target=watch, daemon=True).start()
    proc.log_lines = lines  # type: ignore[attr-defined]
    if not found.wait(30):
        proc.kill()
        raise AssertionError(f"{args} did not log {ready!r}: {''.join(lines)}")
    return proc


def finish(proc: subprocess.Popen[str], timeout: float = 60.0) -> tuple[int, str, str]:
    try:
        code = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(f"command did not finish: {proc.args}") from None
    assert proc.stdout is not None
    out = proc.stdout.read()
    return code, out, "".join(proc.log_lines)  # type: ignore[attr-defined]


# The examples of docs/cli.md, exactly as the page shows them; the tests below run each
# one (with the page's ports and file names replaced by the test's own).
DOCS = Path(__file__).resolve().parents[3] / "docs" / "cli.md"
DOC_EXAMPLES = {
    "send": "send tcp://127.0.0.1:7000 hello world --reply",
    "send-json": "send tcp://127.0.0.1:7000 hi --frame length --reply --repeat 3 --json",
    "listen": "listen tcp-listen://127.0.0.1:7000 --echo --frame line -C 2 --json",
    "pub": "pub mqtt://127.0.0.1:1883 plant/a temp=21 -q 1",
    "sub": "sub mqtt://127.0.0.1:1883 'plant/#' -C 2 -v -q 1",
    "sub-format": "sub mqtt://127.0.0.1:1883 'cfg/#' -C 1 -F '%t|%p|%x|%l|%q|%r'",
    "term": "term tcp://127.0.0.1:7000 --at --echo --log session.log",
    "record": "record mqtt://127.0.0.1:1883 -t 'line/#' -o capture.jsonl -C 3 --for 30",
    "replay": "replay capture.jsonl tcp://127.0.0.1:7000 --speed 10",
    "stats": "stats tcp://127.0.0.1:7000 loop:// --probe 'ping\\n' --interval 0.3 -C 2",
    "receive-file": "receive-file tcp-listen://127.0.0.1:7000 --out inbox -W 120 --json",
    "send-file": "send-file tcp://127.0.0.1:7000 firmware.bin",
}


def doc_args(key: str, **replace: str) -> list[str]:
    """The arguments of a docs example, each word in ``replace`` (keys: the page's) replaced.

    Keys name the page's text: ``tcp``, ``listen`` and ``mqtt`` replace the URLs'
    ``scheme://127.0.0.1:PORT`` part; other keys are file names (``capture``...).
    """
    words = {
        "tcp": "tcp://127.0.0.1:7000",
        "listen": "tcp-listen://127.0.0.1:7000",
        "mqtt": "mqtt://127.0.0.1:1883",
        "capture": "capture.jsonl",
        "log": "session.log",
        "inbox": "inbox",
        "firmware": "firmware.bin",
    }
    args = shlex.split(DOC_EXAMPLES[key])
    for name, value in replace.items():
        args = [value if arg == words[name] else arg for arg in args]
    return args


def test_every_docs_example_is_one_the_tests_run() -> None:
    shown = [
        line.removeprefix("$ eq1-network ").strip()
        for line in DOCS.read_text(encoding="utf-8").splitlines()
        if line.startswith("$ eq1-network ")
    ]
    assert sorted(shown) == sorted(DOC_EXAMPLES.values())


@pytest.fixture
def echo() -> Iterator[str]:
    with EchoServer() as server:
        host, port = server.address
        yield f"tcp://{host}:{port}"


@pytest.fixture
def socat_echo(tmp_path: Path) -> Iterator[str]:
    exe = require_executable("socat", "a TCP echo peer")
    port = free_port()
    with PeerProcess([exe, f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork", "PIPE"]) as peer:
        peer.wait_listening(port)
        yield f"tcp://127.0.0.1:{port}"


def _mosquitto(tmp_path: Path, extra: str = "") -> Iterator[int]:
    exe = require_executable("mosquitto", "an MQTT broker")
    port = free_port()
    folder = tmp_path / f"broker-{port}"
    folder.mkdir()
    folder.chmod(0o755)
    conf = folder / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nuser root\n{extra}")
    conf.chmod(0o644)
    with PeerProcess([exe, "-c", str(conf)], log=folder / "log") as peer:
        peer.wait_listening(port)
        yield port


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[str]:
    for port in _mosquitto(tmp_path, "allow_anonymous true\n"):
        yield f"mqtt://127.0.0.1:{port}"


@pytest.fixture
def secure_broker(tmp_path: Path) -> Iterator[int]:
    passwd = shutil.which("mosquitto_passwd")
    if passwd is None:
        pytest.fail("mosquitto_passwd is needed")
    pwfile = tmp_path / "pw"
    subprocess.run([passwd, "-c", "-b", str(pwfile), "alice", "s3cret"], check=True)
    pwfile.chmod(0o644)
    yield from _mosquitto(tmp_path, f"allow_anonymous false\npassword_file {pwfile}\n")


# -- send -----------------------------------------------------------------------------


def test_send_reply_text_and_json(socat_echo: str) -> None:
    done = run(*doc_args("send", tcp=socat_echo))
    assert (done.returncode, done.stdout) == (0, "hello world\n")
    done = run(*doc_args("send-json", tcp=socat_echo))
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 0
    assert [(x["n"], x["sent"], x["text"]) for x in lines] == [
        (1, 6, "hi"),
        (2, 6, "hi"),
        (3, 6, "hi"),
    ]


def test_send_hex_line_expect_and_stdin(echo: str) -> None:
    done = run("send", echo, "--hex", "01 02 ff", "--reply", "-x")
    assert (done.returncode, done.stdout) == (0, "01 02 ff\n")
    done = run("send", echo, "AT\\r", "-e", "--frame", "line", "--reply")
    assert (done.returncode, done.stdout) == (0, "AT\n")
    done = run("send", echo, "--stdin", "--reply", "--expect", "OK", stdin=b"+CSQ: 9\r\nOK\r\n")
    assert done.returncode == 0 and done.stdout == "+CSQ: 9\\r\\nOK\\r\\n\n"


def test_send_exit_codes(echo: str) -> None:
    port = free_port()
    refused = run("send", f"tcp://127.0.0.1:{port}", "x")
    assert refused.returncode == 3 and "error:" in refused.stderr
    timeout = run("send", echo, "x", "--expect", "never", "--timeout", "0.5")
    assert timeout.returncode == 4 and "--expect" in timeout.stderr
    usage = run("send", "memory://", "x")
    assert usage.returncode == 2 and "pub/sub" in usage.stderr
    bad_url = run("send", "nosuch://x", "x")
    assert bad_url.returncode == 2
    bad_arg = run("send", echo, "x", "--frame", "nope")
    assert bad_arg.returncode == 2
    assert "Traceback" not in refused.stderr + timeout.stderr + usage.stderr + bad_url.stderr


def test_send_bad_length_frame_is_a_protocol_error(tmp_path: Path) -> None:
    port = free_port()
    server = start(
        "listen",
        f"tcp-listen://127.0.0.1:{port}",
        "--reply",
        "\\xff\\xff\\xff\\xff",
        "-C",
        "1",
        ready="listening",
    )
    try:
        done = run(
            "send", f"tcp://127.0.0.1:{port}", "x", "--frame", "length", "--reply", "--timeout", "3"
        )
    finally:
        finish(server)
    assert done.returncode == 5, done.stderr


def _accepts(port: int) -> bool:
    from eq1_network.testing import port_accepts

    return port_accepts(port)


# -- listen ---------------------------------------------------------------------------


def test_listen_tcp_server_echo_and_count() -> None:
    port = free_port()
    server = start(*doc_args("listen", listen=f"tcp-listen://127.0.0.1:{port}"), ready="listening")
    first = run("send", f"tcp://127.0.0.1:{port}", "one", "--frame", "line", "--reply")
    second = run("send", f"tcp://127.0.0.1:{port}", "two", "--frame", "line", "--reply")
    code, out, err = finish(server)
    assert (first.stdout, second.stdout) == ("one\n", "two\n")
    assert code == 0, err
    assert [json.loads(line)["text"] for line in out.splitlines()] == ["one", "two"]
    assert all(json.loads(line)["peer"] for line in out.splitlines())


def test_listen_timeout_exit_code_and_serial_pty(tmp_path: Path) -> None:
    with pty_pair(tmp_path) as pair:
        a, b = pair.links
        listener = start(
            "listen",
            f"serial://{a}",
            "-C",
            "2",
            "-W",
            "20",
            "--reply",
            "OK\\r\\n",
            ready="listening",
        )
        done = run(
            "send",
            f"serial://{b}",
            "AT\\r",
            "-e",
            "--reply",
            "--expect",
            "OK",
            "--repeat",
            "2",
            "--interval",
            "0.2",
        )
        code, out, err = finish(listener)
    assert done.returncode == 0 and done.stdout.count("OK") == 2, done.stderr
    assert code == 0, err
    assert "AT\\r" in out
    short = run("listen", "loop://", "-C", "1", "-W", "0.3")
    assert short.returncode == 4 and "0 of 1" in short.stderr


# -- pub / sub ------------------------------------------------------------------------


def test_pub_sub_roundtrip_flags_and_format(broker: str) -> None:
    sub = start(*doc_args("sub", mqtt=broker), ready="subscribed")
    assert run(*doc_args("pub", mqtt=broker)).returncode == 0
    assert run("pub", broker, "plant/b", "temp=22", "-q", "2").returncode == 0
    code, out, err = finish(sub)
    lines = out.splitlines()
    assert code == 0, err
    assert lines == ["plant/a temp=21", "plant/b temp=22"]


def test_sub_retained_format_json_and_timeouts(broker: str) -> None:
    assert run("pub", broker, "cfg/mode", "auto", "-r", "-q", "1").returncode == 0
    done = run(*doc_args("sub-format", mqtt=broker))
    assert (done.returncode, done.stdout) == (0, "cfg/mode|auto|6175746f|4|0|1\n")
    done = run("sub", broker, "cfg/#", "-C", "1", "--json")
    record = json.loads(done.stdout)
    assert (record["topic"], record["text"], record["retain"]) == ("cfg/mode", "auto", True)
    done = run("sub", broker, "cfg/#", "--retained-only", "-W", "3")
    assert (done.returncode, done.stdout) == (0, "auto\n")
    done = run("sub", broker, "cfg/#", "-R", "-W", "1")
    assert (done.returncode, done.stdout) == (4, "")
    done = run("sub", broker, "empty/#", "-W", "0.5")
    assert done.returncode == 4 and "0 of 1" in done.stderr
    done = run("sub", broker, "cfg/#", "-C", "3", "-W", "1")
    assert done.returncode == 4 and "1 of 3" in done.stderr


def test_pub_stdin_lines_and_file(broker: str, tmp_path: Path) -> None:
    sub = start("sub", broker, "lines/x", "-C", "3", "--json", ready="subscribed")
    assert (
        run("pub", broker, "lines/x", "--stdin-lines", "-q", "1", stdin=b"a\nb\n").returncode == 0
    )
    payload = tmp_path / "blob.bin"
    payload.write_bytes(bytes(range(256)))
    assert run("pub", broker, "lines/x", "-f", str(payload), "-q", "1").returncode == 0
    code, out, err = finish(sub)
    got = [json.loads(line) for line in out.splitlines()]
    assert code == 0, err
    assert [g["text"] for g in got[:2]] == ["a", "b"]
    assert bytes.fromhex(got[2]["hex"]) == bytes(range(256))


def test_pub_sub_exit_codes(broker: str, secure_broker: int, tmp_path: Path) -> None:
    refused = run("pub", f"mqtt://127.0.0.1:{free_port()}", "t", "x")
    assert refused.returncode == 3
    usage = run("pub", broker, "t/#", "x")
    assert usage.returncode == 2
    both = run("pub", broker, "t", "x", "-n")
    assert both.returncode == 2
    wrong = run("pub", f"mqtt://alice:wrong-pass@127.0.0.1:{secure_broker}", "t", "x")
    assert wrong.returncode == 6, wrong.stderr
    assert "wrong-pass" not in wrong.stderr + wrong.stdout
    pw = tmp_path / "pw.txt"
    pw.write_text("s3cret\n")
    ok = run("pub", f"mqtt://alice@127.0.0.1:{secure_broker}", "t", "x", "--password-file", str(pw))
    assert ok.returncode == 0, ok.stderr
    env_ok = subprocess.run(
        [
            sys.executable,
            "-m",
            "eq1_network",
            "pub",
            f"mqtt://alice@127.0.0.1:{secure_broker}",
            "t",
            "x",
        ],
        env={**os.environ, "EQ1_NETWORK_PASSWORD": "s3cret"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert env_ok.returncode == 0, env_ok.stderr


# -- record / replay ------------------------------------------------------------------


def test_record_then_replay_mqtt_to_tcp_and_back(broker: str, tmp_path: Path) -> None:
    rec = tmp_path / "capture.jsonl"
    recorder = start(*doc_args("record", mqtt=broker, capture=str(rec)), ready="recording")
    for payload in ("first", "\\x00\\x01binary\\xff", "third"):
        assert run("pub", broker, "line/1", payload, "-e", "-q", "1").returncode == 0
    code, _, err = finish(recorder)
    assert code == 0, err
    events = [json.loads(line) for line in rec.read_text().splitlines()]
    assert events[0]["format"] == "eq1-network-recording"
    # replay onto a TCP listener recording what it receives: same bytes, same order
    port = free_port()
    out = tmp_path / "replayed.jsonl"
    target = start("record", f"tcp-listen://127.0.0.1:{port}", "-o", str(out), ready="recording")
    done = run(*doc_args("replay", capture=str(rec), tcp=f"tcp://127.0.0.1:{port}"))
    first = [_b64(e["data"]) for e in events[1:]]
    assert first == [b"first", b"\x00\x01binary\xff", b"third"]
    wait_until(lambda: len(_recorded(out)) >= len(b"".join(first)), 30, what="the replay")
    target.terminate()
    code, _, err = finish(target)
    assert done.returncode == 0 and code == 0, done.stderr + err
    assert _recorded(out) == b"".join(first)


def _recorded(path: Path) -> bytes:
    """The bytes of the data events of a recording so far."""
    if not path.exists():
        return b""
    lines = path.read_text().splitlines()[1:]
    return b"".join(_b64(json.loads(line)["data"]) for line in lines if line.endswith("}"))


def _b64(text: str) -> bytes:
    import base64

    return base64.b64decode(text)


def test_replay_max_loop_and_errors(tmp_path: Path, socat_echo: str) -> None:
    rec = tmp_path / "sent.jsonl"
    lines = [
        '{"type":"header","format":"eq1-network-recording","version":1,"endpoints":[]}',
        '{"type":"event","t":0.0,"kind":"send","dir":"out","data":"QQ=="}',
        '{"type":"event","t":5.0,"kind":"read","dir":"in","data":"Qg=="}',
        '{"type":"event","t":0.1,"kind":"send","dir":"out","data":"Qw=="}',
    ]
    rec.write_text("\n".join(lines) + "\n")
    port = free_port()
    out = tmp_path / "got.jsonl"
    target = start("record", f"tcp-listen://127.0.0.1:{port}", "-o", str(out), ready="recording")
    done = run("replay", str(rec), f"tcp://127.0.0.1:{port}", "--max", "--loop", "2", "--json")
    wait_until(lambda: len(_recorded(out)) >= 4, 30, what="4 bytes recorded")
    target.terminate()
    code, _, err = finish(target)
    assert done.returncode == 0 and code == 0, done.stderr + err
    assert len(done.stdout.splitlines()) == 4
    assert _recorded(out) == b"ACAC"
    missing = run("replay", str(tmp_path / "nope.jsonl"), socat_echo)
    assert missing.returncode == 2
    rec.write_text("garbage\n")
    assert run("replay", str(rec), socat_echo).returncode == 2


def test_stats_json_lines_with_probe_and_prometheus(socat_echo: str) -> None:
    done = run(*doc_args("stats", tcp=socat_echo))
    assert done.returncode == 0, done.stderr
    snaps = [json.loads(line) for line in done.stdout.splitlines()]
    assert [s["endpoint"] for s in snaps] == [socat_echo, "loop://"] * 2
    last = snaps[-2]
    assert last["round_trips"] >= 1 and last["bytes_in"] == last["round_trips"] * 5
    assert last["latency_p50"] is not None and last["errors"] == 0
    table = run("stats", socat_echo, "--table", "--interval", "0.2", "-C", "1")
    assert table.returncode == 0 and "ENDPOINT" in table.stdout and socat_echo in table.stdout
    port = free_port()
    proc = start(
        "stats",
        socat_echo,
        "--probe",
        "x",
        "--prometheus",
        str(port),
        "--for",
        "30",
        ready="watching",
    )
    try:
        wait_until(lambda: _accepts(port), 30, what="the /metrics endpoint")
        import urllib.request

        def scraped() -> bool:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
                text = r.read().decode()
            return f'eq1_network_messages_out_total{{endpoint="{socat_echo}"}}' in text

        wait_until(scraped, 30, what="the metrics of the endpoint")
    finally:
        proc.terminate()
        code, _, _ = finish(proc)
    assert code == 0


def test_stats_of_a_broker_subscription(broker: str) -> None:
    proc = start(
        "stats", broker, "-t", "s/#", "--json", "--interval", "0.2", "--for", "60", ready="watching"
    )
    seen = 0
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 50
        next_publish = 0.0
        while time.monotonic() < deadline and not seen:
            if time.monotonic() >= next_publish:  # again, in case the first one was early
                assert run("pub", broker, "s/x", "12345", "-q", "1").returncode == 0
                next_publish = time.monotonic() + 10
            seen = json.loads(proc.stdout.readline())["messages_in"]
    finally:
        proc.terminate()
        finish(proc)
    assert seen >= 1


# -- term -----------------------------------------------------------------------------


class _Modem:
    """A TCP peer answering AT commands like a modem, and sending a URC on demand."""

    def __init__(self) -> None:
        import socket

        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.conn: Any = None
        self.received = b""
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self.conn, _ = self.listener.accept()
        answers = {b"AT": b"\r\nOK\r\n", b"AT+CSQ": b"\r\n+CSQ: 21,99\r\n\r\nOK\r\n"}
        buffer = b""
        while True:
            data = self.conn.recv(1024)
            if not data:
                return
            self.received += data
            buffer += data
            while b"\r" in buffer:
                command, buffer = buffer.split(b"\r", 1)
                self.conn.sendall(answers.get(command.strip(), b"\r\nERROR\r\n"))

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.listener.close()


def _controlling_terminal() -> None:
    """In the child: a new session whose controlling terminal is the pty (so ^C is SIGINT)."""
    import fcntl
    import termios

    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class _Pty:
    """The test's side of a pseudo-terminal whose other side is a command's stdio."""

    def __init__(self, *args: str) -> None:
        self.master, slave = os.openpty()
        self.proc = subprocess.Popen(  # the command under test, on the pty
            [sys.executable, "-m", "eq1_network", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            preexec_fn=_controlling_terminal,
        )
        os.close(slave)
        self.seen = b""

    def expect(self, text: str, timeout: float = 30.0) -> None:
        import select

        deadline = time.monotonic() + timeout
        while text.encode() not in self.seen:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{text!r} not shown; the terminal shows {self.seen!r}")
            ready, _, _ = select.select([self.master], [], [], min(left, 0.5))
            if ready:
                try:
                    self.seen += os.read(self.master, 4096)
                except OSError:  # the command exited and closed the pty
                    raise AssertionError(f"{text!r} not shown: {self.seen!r}") from None

    def type(self, data: bytes) -> None:
        os.write(self.master, data)

    def close(self) -> int:
        try:
            return self.proc.wait(30)
        finally:
            os.close(self.master)


def test_term_at_mode_through_a_pty(tmp_path: Path) -> None:
    modem = _Modem()
    log = tmp_path / "session.log"
    pty = _Pty(*doc_args("term", tcp=f"tcp://127.0.0.1:{modem.port}", log=str(log)))
    try:
        pty.expect("Ctrl-] quits")
        pty.type(b"AT\r")
        pty.expect("[OK] OK")
        pty.type(b"AT+CSQ\r")
        pty.expect("     +CSQ: 21,99")
        pty.expect("AT+CSQ")  # local echo
        pty.type(b"ATX\r")
        pty.expect("[ERROR] ERROR")
        modem.conn.sendall(b"\r\n+CREG: 1\r\n")
        pty.expect("[URC] +CREG: 1")
        pty.type(b"\x1d")
        code = pty.close()
    finally:
        modem.close()
    assert code == 0
    assert modem.received == b"AT\rAT+CSQ\rATX\r"
    text = log.read_text()
    assert "> A" in text and "< \\r\\n+CSQ: 21,99" in text
    assert b"Traceback" not in pty.seen


def test_term_ctrl_c_hex_and_timestamps(echo: str) -> None:
    pty = _Pty("term", echo, "--hex", "--timestamps")
    pty.expect("Ctrl-] quits")
    pty.type(b"A")
    pty.expect(" 41\r\n")
    pty.type(b"\x03")
    assert pty.close() == 0
    assert b"Traceback" not in pty.seen


def test_term_with_piped_input_on_a_serial_pty(tmp_path: Path) -> None:
    with pty_pair(tmp_path) as pair:
        a, b = pair.links
        device = os.open(b, os.O_RDWR | os.O_NOCTTY)
        try:
            done = subprocess.Popen(  # the command under test
                [sys.executable, "-m", "eq1_network", "term", f"serial://{a}", "--eol", "lf"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            assert done.stdin is not None
            done.stdin.write(b"status\n")
            done.stdin.flush()
            got = b""
            deadline = time.monotonic() + 30
            while got != b"status\n" and time.monotonic() < deadline:
                got += os.read(device, 64)
            os.write(device, b"ready\r\n")
            out, err = done.communicate(b"", timeout=30)
        finally:
            os.close(device)
    assert got == b"status\n"
    assert done.returncode == 0, err
    assert out == b"ready\n"


# -- send-file / receive-file ---------------------------------------------------------


def test_send_file_20_mib_with_progress_and_checksum(tmp_path: Path) -> None:
    blob = tmp_path / "firmware.bin"
    blob.write_bytes(os.urandom(20 * 1024 * 1024))
    port = free_port()
    out = tmp_path / "inbox"
    receiver = start(
        *doc_args("receive-file", listen=f"tcp-listen://127.0.0.1:{port}", inbox=str(out)),
        ready="listening",
    )
    sent = run(
        *doc_args("send-file", tcp=f"tcp://127.0.0.1:{port}", firmware=str(blob)), timeout=120
    )
    code, rx_out, rx_err = finish(receiver, timeout=120)
    assert sent.returncode == 0 and code == 0, sent.stderr + rx_err
    assert (out / "firmware.bin").read_bytes() == blob.read_bytes()
    assert not (out / "firmware.bin.part").exists()
    assert "verified" in sent.stdout and "20971520 bytes" in sent.stdout
    progress = [line for line in sent.stderr.splitlines() if "MiB/s" in line]
    assert progress and "100%" in progress[-1] and "20971520 of 20971520 bytes" in progress[-1]
    records = [json.loads(line) for line in rx_out.splitlines()]
    assert records[-1]["event"] == "done" and records[-1]["ok"] is True
    assert records[-1]["size"] == 20 * 1024 * 1024
    assert all(r["event"] == "progress" for r in records[:-1])


def test_file_transfer_exit_codes(tmp_path: Path) -> None:
    from eq1_network import (
        ANY_PACKAGE,
        BinarySendData,
        JsonSendData,
        MessageType,
        NetworkConfig,
        NetworkHandler,
    )

    blob = tmp_path / "a.txt"
    blob.write_bytes(b"abc" * 1000)
    assert run("send-file", f"tcp://127.0.0.1:{free_port()}", str(blob)).returncode == 3
    assert run("send-file", "loop://", str(tmp_path / "missing")).returncode == 2
    quiet = run(
        "receive-file", f"tcp-listen://127.0.0.1:{free_port()}", "-o", str(tmp_path), "-W", "0.5"
    )
    assert quiet.returncode == 4 and "0 of 1" in quiet.stderr
    # a sender whose checksum does not match: the receiver discards the file, exits 5
    port = free_port()
    receiver = start(
        "receive-file",
        f"tcp-listen://127.0.0.1:{port}",
        "-o",
        str(tmp_path / "in"),
        "-W",
        "60",
        ready="listening",
    )
    config = NetworkConfig(protocol=f"tcp://127.0.0.1:{port}?timeout=5", package=ANY_PACKAGE)
    kind = MessageType.FILE_TRANSFER
    with NetworkHandler(config) as handler:
        handler.send_data(JsonSendData({"file": "../evil.bin", "size": 3}, message_type=kind))
        handler.send_data(BinarySendData(b"abc", message_type=kind))
        answer = handler.request(
            JsonSendData({"end": True, "sha256": "0" * 64}, message_type=kind), timeout=30
        )
    code, out, _ = finish(receiver)
    assert code == 5 and answer.value["ok"] is False
    assert "MISMATCH" in out
    assert not (tmp_path / "in" / "evil.bin").exists() and not (tmp_path / "evil.bin").exists()


# -- TLS, help, the sender's side of a checksum mismatch -------------------------------


def test_tls_send_and_a_rejected_certificate(tmp_path: Path) -> None:
    from eq1_network.testing import make_tls_files

    tls = make_tls_files(tmp_path)
    port = free_port()
    server_url = (
        f"tcp-listen://127.0.0.1:{port}?certfile={tls.server_cert}&keyfile={tls.server_key}"
    )
    server = start("listen", server_url, "--echo", "-C", "1", ready="listening")
    try:
        rejected = run("send", f"tls://127.0.0.1:{port}?cafile={tls.other_ca}", "x", "--reply")
        trusted = run("send", f"tls://127.0.0.1:{port}?cafile={tls.ca}", "secure", "--reply")
    finally:
        code, _, err = finish(server)
    assert rejected.returncode == 6, rejected.stderr
    assert (trusted.returncode, trusted.stdout) == (0, "secure\n"), trusted.stderr
    assert code == 0, err


def test_help_lists_the_exit_codes() -> None:
    for command in ("send", "listen", "pub", "sub", "term", "record", "replay", "stats"):
        done = run(command, "--help")
        assert done.returncode == 0
        assert "exit codes" in done.stdout and "6    authentication" in done.stdout
    assert "exit codes" in run("--help").stdout


def test_send_file_reports_a_receiver_that_disagrees(tmp_path: Path) -> None:
    from eq1_network import JsonSendData, MessageType, NetworkConfig, NetworkHandler
    from eq1_network.package import ANY_PACKAGE

    blob = tmp_path / "a.bin"
    blob.write_bytes(b"z" * 5000)
    port = free_port()
    config = NetworkConfig(
        protocol=f"tcp-listen://127.0.0.1:{port}", package=ANY_PACKAGE, receive_queue=True
    )
    with NetworkHandler(config) as receiver:
        sender = subprocess.Popen(  # the command under test
            [
                sys.executable,
                "-m",
                "eq1_network",
                "send-file",
                f"tcp://127.0.0.1:{port}",
                str(blob),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            message = receiver.receive(timeout=60)
            if isinstance(message.value, dict) and message.value.get("end"):
                answer = {"ok": True, "sha256": "f" * 64, "size": 1}
                receiver.send_data(
                    JsonSendData(
                        answer, message_type=MessageType.RESPONSE, reply_to=message.sequence
                    )
                )
                break
        out, err = sender.communicate(timeout=60)
    assert sender.returncode == 5, err
    assert "MISMATCH" in out


def test_hexdump_view_udp_and_sigint_ends_listen_cleanly() -> None:
    import signal

    port = free_port()
    server = start(
        "listen", f"udp-listen://127.0.0.1:{port}", "--echo", "--hexdump", ready="listening"
    )
    try:
        done = run(
            "send", f"udp://127.0.0.1:{port}", "--hex", "00 41 42 ff", "--reply", "--hexdump"
        )
    finally:
        server.send_signal(signal.SIGINT)
        code, out, err = finish(server)
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith("00000000  00 41 42 ff" + " " * 36 + "  |.AB.|\n")
    assert code == 0 and "Traceback" not in err
    assert "00 41 42 ff" in out and "127.0.0.1:" in out


def test_ask_password_prompts_on_the_terminal_without_echo(secure_broker: int) -> None:
    pty = _Pty("pub", f"mqtt://alice@127.0.0.1:{secure_broker}", "t", "x", "--ask-password")
    pty.expect("password: ")
    pty.type(b"s3cret\n")
    assert pty.close() == 0, pty.seen
    assert b"s3cret" not in pty.seen


def test_stats_draws_a_table_on_a_terminal_and_send_reads_a_file(echo: str, tmp_path: Path) -> None:
    pty = _Pty("stats", echo, "--probe", "x", "--interval", "0.2", "-C", "2")
    pty.expect("ENDPOINT")
    pty.expect("P50 ms")
    assert pty.close() == 0
    assert b"{" not in pty.seen  # a table, not JSON
    payload = tmp_path / "frame.bin"
    payload.write_bytes(b"\x02STATUS\x03")
    done = run(
        "send", echo, "--file", str(payload), "--reply", "--repeat", "2", "--interval", "0.1"
    )
    assert (done.returncode, done.stdout) == (0, "\\x02STATUS\\x03\n" * 2)

"""Configuration errors name the line and the key; secrets are never shown."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from eq1_network.gateway import ConfigError, parse_config
from eq1_network.gateway.config import PointConfig
from eq1_network.gateway.points import PointState, plan_blocks
from eq1_network.gateway.runtime import connection_url

GOOD = """\
version: 1
connections:
  plc: {url: "modbus://127.0.0.1:1502"}
  broker: {url: "mqtt://127.0.0.1:1883"}
bridges:
  - from: plc
    to: broker
    poll: 500ms
    points:
      - name: t
        table: input
        address: 0
        topic: a/t
"""


def errors_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "gw.yaml")
    return caught.value.errors


def test_a_good_file_validates() -> None:
    config = parse_config(GOOD)
    assert config.bridges[0].poll == 0.5
    assert config.bridges[0].points is not None
    assert config.bridges[0].points[0].value_type == "uint16"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "        table: input\n",
            "        table: inputs\n",
            "gw.yaml:11: bridges[0].points[0].table:",
        ),
        (
            "        address: 0\n",
            "        address: 70000\n",
            "gw.yaml:12: bridges[0].points[0].address:",
        ),
        (
            "        topic: a/t\n",
            "        topic: a/t\n        colour: red\n",
            "gw.yaml:14: bridges[0].points[0].colour: Extra inputs",
        ),
        ("    poll: 500ms\n", "    poll: soon\n", "gw.yaml:8: bridges[0].poll:"),
        (
            "    poll: 500ms\n",
            "    poll: 500ms\n    poll: 1s\n",
            "gw.yaml:9: bridges[0].poll: key given twice",
        ),
        ("  - from: plc\n", "  - from: plc2\n", "gw.yaml:6: bridges[0].from: 'plc2' is neither"),
        ("version: 1\n", "version: 2\n", "gw.yaml:1: version:"),
        ("        topic: a/t\n", "        topic: a/+\n", "gw.yaml:10: bridges[0].points[0]:"),
        (
            "        table: input\n",
            "        table: input\n        set_topic: a/t/set\n",
            "read-only",
        ),
        ("  plc: {url", "  plc: {urls", "gw.yaml:3: connections.plc"),
        ("        address: 0\n", "        address: [0\n", "gw.yaml:13: not valid YAML"),
    ],
)
def test_errors_name_the_line_and_the_key(old: str, new: str, expected: str) -> None:
    assert old in GOOD
    errors = errors_of(GOOD.replace(old, new))
    assert any(expected in e for e in errors), errors


def test_modbus_bridge_without_points_and_raw_bridge_without_topic() -> None:
    text = GOOD.split("    points:")[0] + '  - from: "tcp://127.0.0.1:9"\n    to: broker\n'
    errors = errors_of(text)
    assert any("gw.yaml:6: bridges[0]: a Modbus bridge needs points" in e for e in errors), errors
    assert any("gw.yaml:9: bridges[1]: a raw bridge needs a topic" in e for e in errors), errors


def test_secrets_are_checked_and_never_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = GOOD.replace(
        '"mqtt://127.0.0.1:1883"}', '"mqtt://gw@127.0.0.1:1883", password_env: GW_T_PW}'
    )
    monkeypatch.delenv("GW_T_PW", raising=False)
    assert errors_of(text) == [
        "gw.yaml:4: connections.broker.password_env: the environment variable GW_T_PW is not set"
    ]
    monkeypatch.setenv("GW_T_PW", "s3cret-value")
    config = parse_config(text)
    url = connection_url(config.connections["broker"])
    assert url == "mqtt://gw@127.0.0.1:1883?password_env=GW_T_PW"
    assert "s3cret" not in repr(config)
    secret = tmp_path / "pw"
    secret.write_text("from-a-file\n")
    both = text.replace(
        "password_env: GW_T_PW}", f"password_env: GW_T_PW, password_file: {secret}}}"
    )
    assert any("not both" in e for e in errors_of(both))


def test_blocks_respect_the_register_limit() -> None:
    points = [
        PointState(
            PointConfig(
                name=f"p{i}", table="holding", address=i * 2, type="float32", topic=f"x/{i}"
            )
        )
        for i in range(500)
    ]
    blocks = plan_blocks(points)
    assert sum(b.count for b in blocks) == 1000
    assert all(b.count <= 125 for b in blocks)
    assert len(blocks) == 9  # 124 registers each: a float32 is never split across reads
    gap = [
        PointState(PointConfig(name=n, table="input", address=a, topic="x"))
        for n, a in (("a", 0), ("b", 3))
    ]
    assert len(plan_blocks(gap)) == 2
    assert [(b.address, b.count) for b in plan_blocks(gap, max_gap=2)] == [(0, 4)]


def test_check_command_exit_codes(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(GOOD)
    bad.write_text(GOOD.replace("table: input", "table: inputs"))
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    command = [sys.executable, "-m", "eq1_network", "gateway", "--check", "--config"]
    ok = subprocess.run([*command, str(good)], capture_output=True, text=True, env=env, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert "valid: 2 connection(s), 1 bridge(s), 1 point(s)" in ok.stdout
    failed = subprocess.run(
        [*command, str(bad)], capture_output=True, text=True, env=env, timeout=60
    )
    assert failed.returncode == 2
    assert f"{bad}:11: bridges[0].points[0].table:" in failed.stderr


def test_endpoint_urls_are_checked_without_opening_them() -> None:
    errors = errors_of(GOOD.replace('1502"', '1502?colour=red"'))
    assert errors[0].startswith("gw.yaml:3: connections.plc.url: ")
    assert "unknown parameter 'colour'" in errors[0]
    inline = GOOD.replace("    to: broker\n", '    to: "mqtt://127.0.0.1:1883?bogus=1"\n')
    assert any(
        e.startswith("gw.yaml:7: bridges[0].to: ") and "bogus" in e for e in errors_of(inline)
    )

"""ProtocolSpec as a value: checks, equality, immutability, copies."""

from __future__ import annotations

import copy
import pickle

import pytest

from eq1_network import ProtocolConfigurationError, ProtocolSpec
from eq1_network.protocols.loopback.reqres import LoopbackProtocol


def _spec(**changes: object) -> ProtocolSpec:
    fields: dict[str, object] = {
        "name": "demo",
        "factory": "demo.module:Demo",
        "schemes": ("demo",),
    }
    fields.update(changes)
    return ProtocolSpec(**fields)  # type: ignore[arg-type]


def test_defaults_and_fields() -> None:
    spec = ProtocolSpec("demo", LoopbackProtocol)
    assert (spec.name, spec.factory, spec.kind, spec.schemes, spec.summary) == (
        "demo",
        LoopbackProtocol,
        "reqres",
        (),
        "",
    )
    assert spec.distribution is None and spec.version is None


def test_equality_and_hash_ignore_where_the_spec_comes_from() -> None:
    plain = _spec()
    located = _spec(distribution="acme-demo", version="1.2")
    assert plain == located
    assert hash(plain) == hash(located)
    assert len({plain, located}) == 1
    assert plain != _spec(summary="other")
    assert plain != _spec(kind="pubsub")
    assert plain != "demo"


def test_a_spec_cannot_be_changed_in_place() -> None:
    spec = _spec()
    with pytest.raises(AttributeError, match="replace"):
        spec.name = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del spec.summary
    assert spec.name == "demo"


def test_replace_gives_a_checked_copy() -> None:
    spec = _spec()
    moved = spec.replace(distribution="acme-demo", version="2.0")
    assert (moved.distribution, moved.version) == ("acme-demo", "2.0")
    assert spec.distribution is None
    assert moved.schemes == ("demo",)
    with pytest.raises(ProtocolConfigurationError, match="lowercase"):
        spec.replace(name="Not Valid")
    with pytest.raises(TypeError, match="colour"):
        spec.replace(colour="blue")


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"name": ""}, "lowercase"),
        ({"name": "Upper"}, "lowercase"),
        ({"name": "two words"}, "lowercase"),
        ({"kind": "stream"}, "kind must be one of"),
        ({"factory": "no_colon"}, "package.module:ClassName"),
        ({"factory": int}, "BaseProtocol subclass"),
    ],
)
def test_invalid_specs_are_refused(changes: dict[str, object], words: str) -> None:
    with pytest.raises(ProtocolConfigurationError, match=words):
        _spec(**changes)


def test_repr_names_every_field() -> None:
    text = repr(_spec(distribution="acme-demo"))
    assert text.startswith("ProtocolSpec(name='demo', factory='demo.module:Demo'")
    assert "distribution='acme-demo'" in text and "version=None" in text


def test_copies_and_pickles_are_equal_values() -> None:
    spec = _spec(distribution="acme-demo", version="1.0")
    for twin in (copy.copy(spec), copy.deepcopy(spec), pickle.loads(pickle.dumps(spec))):
        assert twin == spec
        assert (twin.distribution, twin.version) == ("acme-demo", "1.0")

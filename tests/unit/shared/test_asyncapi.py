"""docs/asyncapi.yaml describes every registered event contract, field for field."""

from pathlib import Path

import pytest
import yaml

import shared.contracts  # noqa: F401  (registers every contract)
from shared.events import payload_schema, registered

DOC = Path(__file__).resolve().parents[3] / "docs" / "asyncapi.yaml"
EVENTS = registered()


@pytest.fixture(scope="module")
def spec():
    return yaml.safe_load(DOC.read_text(encoding="utf-8"))


def resolve(spec, node):
    """Follow a local ``$ref`` (``#/components/...``) to the node it names."""
    while "$ref" in node:
        for part in node["$ref"].removeprefix("#/").split("/"):
            spec = spec[part]
        node = spec
    return node


def message_for(spec, event_type, version):
    """The components/messages entry named ``event_type`` whose envelope has ``version``."""
    for message in spec["components"]["messages"].values():
        if message.get("name") != event_type:
            continue
        for part in message["payload"]["allOf"]:
            props = resolve(spec, part).get("properties", {})
            if props.get("event_version", {}).get("const") == version:
                return message
    return None


def payload_of(spec, message):
    """The payload schema of a message: the ``payload`` property of its envelope part."""
    for part in message["payload"]["allOf"]:
        props = resolve(spec, part).get("properties", {})
        if "const" in props.get("event_type", {}):
            return resolve(spec, props["payload"])
    raise AssertionError(f"{message['name']}: no envelope part with the payload schema")


def test_every_registered_event_is_documented(spec):
    assert EVENTS, "no contract registered"
    missing = [f"{t} v{v}" for t, v in EVENTS if message_for(spec, t, v) is None]
    assert not missing, f"docs/asyncapi.yaml has no message for {missing}"


@pytest.mark.parametrize(("event_type", "version"), EVENTS, ids=[f"{t}-v{v}" for t, v in EVENTS])
def test_payload_schema_matches_the_contract(spec, event_type, version):
    message = message_for(spec, event_type, version)
    assert message is not None, f"no message for {event_type} v{version}"
    documented = payload_of(spec, message)
    contract = payload_schema(event_type, version).fields

    assert set(documented["properties"]) == set(contract)
    assert set(documented.get("required", [])) == {n for n, f in contract.items() if f.required}

"""The Pause, Roles and ForceTransfers files: what they load to, and the errors of bad values."""

from __future__ import annotations

import pytest
from desired_support import StateTree, only

from reconciler.desired.dump import dump_force_transfers, dump_pause, dump_roles
from reconciler.desired.schema import load_schema
from reconciler.model import MANAGED_ROLES, PAUSE_KEY, ForceTransfer, Partition, Pause, RoleStatus, role_key

DEPLOYER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
HOLDER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
OTHER = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"


def order(**fields: str) -> str:
    values = {
        "legal_reference": '"SDNY 1:26-cv-01234, order of 2026-11-30"',
        "partition": '"144A"',
        "from": f'"{HOLDER}"',
        "to": f'"{OTHER}"',
        "amount": '"1000.5"',
        **fields,
    }
    body = "".join(f"    {name}: {value}\n" for name, value in values.items())
    return f"kind: ForceTransfers\norders:\n  ORDER-2026-001:\n{body}"


def test_samples_load(tree: StateTree) -> None:
    state = tree.read().state

    assert state.pause == {PAUSE_KEY: Pause(paused=False, reason="normal operations")}
    assert state.roles[role_key("security_token", "MINTER_ROLE", "0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9")].status is (
        RoleStatus.GRANTED
    )
    assert {(each.contract, each.role) for each in state.roles.values()} == {
        (contract, role) for contract, roles in MANAGED_ROLES.items() for role in roles
    }
    assert state.force_transfers == {}


def test_roles_schema_lists_the_managed_roles() -> None:
    contracts = load_schema("Roles")["properties"]["contracts"]["properties"]

    assert {contract: tuple(spec["properties"]) for contract, spec in contracts.items()} == dict(MANAGED_ROLES)


def test_force_transfer_loads_in_base_units(tree: StateTree) -> None:
    tree.write("force-transfers.yaml", order())

    assert tree.read().state.force_transfers == {
        "ORDER-2026-001": ForceTransfer(
            "ORDER-2026-001", "SDNY 1:26-cv-01234, order of 2026-11-30", Partition.RULE_144A, HOLDER, OTHER,
            1000_500_000_000_000_000_000,
        )
    }


@pytest.mark.parametrize(
    ("fields", "code", "message"),
    [
        pytest.param({"amount": '"0"'}, "amount.zero", 'force-transfer order ORDER-2026-001: amount must be greater than 0, found "0"', id="zero-amount"),
        pytest.param({"legal_reference": '"  "'}, "schema.pattern", None, id="blank-reference"),
        pytest.param({"partition": '"RegD"'}, "schema.enum", None, id="partition"),
        pytest.param({"to": f'"{HOLDER}"'}, "force-transfer.same-account", f"force-transfer order ORDER-2026-001 moves tokens from {HOLDER} to the same address", id="same-account"),
        pytest.param({"from": '"0x1234"'}, "schema.pattern", None, id="address"),
    ],
)
def test_bad_order_values(tree: StateTree, fields: dict[str, str], code: str, message: str | None) -> None:
    tree.write("force-transfers.yaml", order(**fields))

    error = only(tree.errors())

    assert (error.file, error.code) == (tree.file("force-transfers.yaml"), code)
    if message is not None:
        assert error.message == message
    assert tree.read().state.force_transfers == {}


def test_order_id_longer_than_32_bytes(tree: StateTree) -> None:
    tree.write("force-transfers.yaml", order().replace("ORDER-2026-001", "ORDER-" + "9" * 27))

    error = only(tree.errors())

    assert error.code == "schema.key"
    assert error.hint == "an order id is 1 to 32 printable ASCII characters without spaces, such as ORDER-2026-001"


def test_pause_needs_a_reason(tree: StateTree) -> None:
    tree.write("pause.yaml", "kind: Pause\npaused: true\n")

    error = only(tree.errors())

    assert error.code == "schema.required"
    assert tree.read().state.pause == {}


def test_unknown_role_is_an_error(tree: StateTree) -> None:
    tree.write("roles.yaml", f'kind: Roles\ncontracts:\n  compliance_registry:\n    PAUSER_ROLE: {{"{DEPLOYER}": granted}}\n')

    error = only(tree.errors())

    assert error.file == tree.file("roles.yaml")
    assert error.line == 5


def test_dumps_read_back(tree: StateTree) -> None:
    state = tree.read().state
    tree.write("force-transfers.yaml", order())
    orders = tree.read().state.force_transfers

    (tree.env_dir / "pause.yaml").write_text(dump_pause(state.pause[PAUSE_KEY]), encoding="utf-8")
    (tree.env_dir / "roles.yaml").write_text(dump_roles(state.roles), encoding="utf-8")
    (tree.env_dir / "force-transfers.yaml").write_text(dump_force_transfers(orders), encoding="utf-8")
    again = tree.read()

    assert again.diagnostics == []
    assert (again.state.pause, again.state.roles, again.state.force_transfers) == (state.pause, state.roles, orders)


@pytest.mark.parametrize(
    ("fields", "found"),
    [
        pytest.param({"legal_reference": '"SDNY\\e[2K\\rNo changes"'}, "U+001B at character 5", id="escape"),
        pytest.param({"legal_reference": '"SDNY\\0"'}, "U+0000 at character 5", id="nul"),
        pytest.param({"legal_reference": '"SDNY\\x7f"'}, "U+007F at character 5", id="delete"),
        pytest.param({"legal_reference": '"SDNY\\x9b2J"'}, "U+009B at character 5", id="c1"),
        pytest.param({"legal_reference": '"SDNY\\nline two"'}, "U+000A at character 5", id="line-feed"),
        pytest.param({"legal_reference": '"SDNY \\u202e1:26-cv-01236"'}, "U+202E at character 6", id="bidi-override"),
        pytest.param({"legal_reference": '"SDNY\\L1:26"'}, "U+2028 at character 5", id="line-separator"),
        pytest.param({"legal_reference": '"SDNY\\u200b1:26"'}, "U+200B at character 5", id="zero-width"),
    ],
)
def test_control_characters_rejected(tree: StateTree, fields: dict[str, str], found: str) -> None:
    tree.write("force-transfers.yaml", order(**fields))

    error = only(tree.errors())

    assert (error.code, error.line) == ("schema.control", 5)
    assert error.message == f"force-transfer order ORDER-2026-001: legal_reference contains the control character {found}"
    assert error.hint.startswith("delete it and write the text on one line of visible characters")
    assert tree.read().state.force_transfers == {}


@pytest.mark.parametrize(
    ("reason", "message", "hint"),
    [
        pytest.param('"' + "x" * 614 + '"', "reason is too long (614 characters, at most 500)",
                     "shorten it to at most 500 characters", id="too-long"),
        pytest.param('""', "reason is empty", 'write the reason in words, such as "normal operations"', id="empty"),
    ],
)  # fmt: skip
def test_pause_reason_length_errors(tree: StateTree, reason: str, message: str, hint: str) -> None:
    tree.write("pause.yaml", f"kind: Pause\npaused: true\nreason: {reason}\n")

    error = only(tree.errors())

    assert (error.message, error.hint) == (message, hint)

"""Renderers and the plan file: exact text, safe markdown split into parts, a schema-valid, deterministic JSON."""

from __future__ import annotations

import html
import io
import json
import re
from dataclasses import replace

import pytest
from jsonschema import Draft202012Validator
from planning_support import (
    DAY,
    NOW,
    SIGNER,
    TOKEN,
    address,
    allocation,
    blocked,
    chain_view,
    cycle,
    desired,
    investor,
    observation,
    plan,
    state,
)
from rich.console import Console

from reconciler import PROJECT_ROOT
from reconciler.model import Investor, SanctionsEntry, State
from reconciler.planning.plan import Plan, PlanOptions, build_plan, document_digest, plan_digest, plan_json
from reconciler.planning.render_markdown import escape, render_markdown
from reconciler.planning.render_text import printable, render_text

LINK_BASE = "https://github.com/acme/jinbi/blob/abc123/"


def sample_plan(*, reverse: bool = False) -> Plan:
    """One action of most kinds, a scheduled coupon and a drift warning; REVERSE reverses every mapping's order."""
    on_chain = chain_view(state([investor(2)], sanctions=[blocked(11)]))
    on_chain = State(
        investors={**on_chain.investors, address(7): Investor(address(7), "", True, False, "", None)},
        sanctions=on_chain.sanctions,
    )
    wanted = desired(
        state(
            [investor(1, qib=True, jurisdiction="US"), investor(2, kyc=False)],
            sanctions=[blocked(10), blocked(11, delisted_on=NOW)],
            allocations=[allocation("A-1", 1)],
            cycles=[cycle("1", payment_date=NOW + 30 * DAY)],
        )
    )
    if reverse:
        wanted = replace(
            wanted,
            state=_reversed(wanted.state),
            positions=dict(reversed(list(wanted.positions.items()))),
        )
        on_chain = _reversed(on_chain)
    options = PlanOptions(signer=SIGNER, git_commit="c0ffee" * 6 + "c0ff")
    return build_plan(wanted, observation(on_chain, total_supply=1_000 * TOKEN), options)


def _reversed(model: State) -> State:
    return State(
        investors=dict(reversed(list(model.investors.items()))),
        sanctions=dict(reversed(list(model.sanctions.items()))),
        allocations=dict(reversed(list(model.allocations.items()))),
        coupon_cycles=dict(reversed(list(model.coupon_cycles.items()))),
    )


EXPECTED_TEXT = """\
JINBI plan for test: chain 31337, block 42 (0xabababababababababababababababababababababababababababababababab), chain time 2026-12-01
Signer 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266, gas cap 10,000,000 per transaction, not simulated.

Investors
  ~ 0x0000000000000000000000000000000010000002  would change kyc true -> false [restrictive]  (state/test/investors.yaml:6:30)
  + 0x0000000000000000000000000000000010000001  would add: kyc true, qib true, jurisdiction US, lockup_until none  (state/test/investors.yaml:5:3)

Sanctions
  + 0x000000000000000000000000000000001000000A  would block (OFAC-SDN, listed 2024-11-01)  (state/test/sanctions.yaml:5:3)
  - 0x000000000000000000000000000000001000000B  would unblock (OFAC-SDN, delisted 2026-12-01)  (state/test/sanctions.yaml:6:40)

Allocations
  + A-1  would book 1000 JINBI in RegS for 0x0000000000000000000000000000000010000001 at 1.000000 USDC per token  (state/test/allocations.yaml:5:3)

Coupon cycles
    1  scheduled for 2026-12-31: would pay 2026-Q2 at 125 bps: 1000 JINBI x 1.000000 USDC x 125 bps / 10,000 = 12.500000 USDC, rounded down to whole USDC base units  (state/test/coupons.yaml:5:3)

Transactions, in sending order
  1. ComplianceRegistry.blockAddresses, 1 item, from 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266 to 0x5FbDB2315678afecb367f032d93F642f64180aa3, ~110,000 gas (estimate), restrictive
  2. ComplianceRegistry.setInvestors, 2 items, from 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266 to 0x5FbDB2315678afecb367f032d93F642f64180aa3, ~118,000 gas (estimate), restrictive/permissive
  3. ComplianceRegistry.unblockAddresses, 1 item, from 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266 to 0x5FbDB2315678afecb367f032d93F642f64180aa3, ~75,000 gas (estimate), permissive
  4. DvPSettlement.book, 1 item, from 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266 to 0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9, ~260,000 gas (estimate), dependent

Warnings
  ! drift: investor 0x0000000000000000000000000000000010000007 (kyc true, qib false, jurisdiction none, lockup_until none) is registered on chain but not in state/test/investors.yaml: the plan leaves it as it is

Plan: 1 address to block, 1 investor to update, 1 investor to add, 1 address to unblock, 1 allocation to book in 4 transactions. 1 coupon cycle scheduled. 1 on-chain item not in the YAML (drift).
"""


# --- text --------------------------------------------------------------------


def test_text_output_line_by_line() -> None:
    assert render_text(sample_plan()).plain.splitlines() == EXPECTED_TEXT.splitlines()


def test_text_without_changes() -> None:
    assert render_text(plan(State())).plain.splitlines()[-1] == "No changes: the chain matches the YAML."


def test_colour_only_on_a_terminal() -> None:
    text = render_text(sample_plan())
    piped, terminal = io.StringIO(), io.StringIO()
    Console(file=piped, force_terminal=False, soft_wrap=True).print(text, end="")
    Console(file=terminal, force_terminal=True, color_system="standard", soft_wrap=True).print(text, end="")
    assert piped.getvalue() == EXPECTED_TEXT
    assert "\x1b[32m  + \x1b[0m" in terminal.getvalue()
    assert "\x1b[31m  - \x1b[0m" in terminal.getvalue()


def test_yaml_values_cannot_inject_rich_markup() -> None:
    entry = SanctionsEntry(address(10), "[bold red]x[/bold red]", 1_730_419_200)
    text = render_text(plan(State(sanctions={entry.address: entry})))
    assert "would block ([bold red]x[/bold red], listed 2024-11-01)" in text.plain


# --- markdown ----------------------------------------------------------------

HOSTILE = [
    "<img src=x onerror=alert(1)>",
    "@octocat",
    "@acme/admins",
    "#12",
    "[click](https://evil.example)",
    "a | b",
    "`code`",
    "**bold** _it_ ~~s~~",
    "line\nbreak",
    "\u202eevil",
    "www.evil.example",
    "<!-- hidden -->",
    "&amp; &#64;",
    "\\*",
]


@pytest.mark.parametrize("raw", HOSTILE, ids=range(len(HOSTILE)))
def test_escape_leaves_no_markup(raw: str) -> None:
    escaped = escape(raw)
    outside_references = re.sub(r"&#[0-9]+;", "", escaped)
    assert not set(outside_references) & set("<>[]`*_|~\\@#&!.:/\n\r\u202e")
    assert "://" not in escaped
    assert "www." not in escaped
    shown = html.unescape(escaped).replace("\u200b", "")
    assert shown == raw.replace("\n", "\ufffd").replace("\u202e", "\ufffd")


def test_escape_breaks_mentions_with_zero_width_space() -> None:
    assert html.unescape(escape("@octocat #12")) == "@\u200boctocat #\u200b12"


def test_hostile_yaml_values_stay_text_in_the_comment() -> None:
    source = "<script>x</script> @acme/admins [x](https://evil.example) | #12"
    entry = SanctionsEntry(address(10), source, 1_730_419_200)
    (body,) = render_markdown(plan(State(sanctions={entry.address: entry})), link_base=LINK_BASE)
    assert "<script" not in body
    assert "](https://evil" not in body
    shown = html.unescape(body)
    assert "@acme" not in shown
    assert " #12" not in shown
    assert "@\u200bacme/admins" in shown
    row = next(line for line in body.splitlines() if line.startswith("| <code>"))
    assert row.count("|") == 5  # no cell was split


def test_action_rows_link_to_the_yaml_line() -> None:
    (body,) = render_markdown(sample_plan(), link_base=LINK_BASE)
    assert (
        "| <code>&#43;</code> | A-1 | would book 1000 JINBI in RegS for 0x0000000000000000000000000000000010000001 "
        "at 1&#46;000000 USDC per token | "
        "[allocations&#46;yaml&#58;5](<https://github.com/acme/jinbi/blob/abc123/state/test/allocations.yaml#L5>) |"
    ) in body.splitlines()


def test_summary_table_counts() -> None:
    (body,) = render_markdown(sample_plan())
    lines = body.splitlines()
    start = lines.index("| change | count |")
    assert lines[start : start + 11] == [
        "| change | count |",
        "|---|---:|",
        "| addresses to block | 1 |",
        "| investors to update | 1 |",
        "| investors to add | 1 |",
        "| addresses to unblock | 1 |",
        "| allocations to book | 1 |",
        "| transactions | 4 |",
        "| coupon cycles scheduled | 1 |",
        "| warnings | 1 |",
        "",
    ]


def test_long_comment_splits_at_row_boundaries() -> None:
    result = plan(state([investor(number) for number in range(1, 1_501)]))
    assert len(result.actions) == 1_500
    parts = render_markdown(result)
    (whole,) = render_markdown(result, max_chars=10**9)
    digest = plan_digest(result)

    assert len(parts) > 1
    for number, part in enumerate(parts, start=1):
        assert len(part) <= 65_000
        assert part.startswith(
            f"<!-- jinbi-plan environment=test digest={digest} part={number}/{len(parts)} -->\n"
            f"### JINBI plan for test, part {number} of {len(parts)}\n"
        )
        assert part.count("<details>") == part.count("</details>")

    def rows(text: str) -> list[str]:
        return [line for line in text.splitlines() if line.startswith("| <code>")]

    assert [row for part in parts for row in rows(part)] == rows(whole)
    assert "<summary>Investors&#58; 1500 to change, continued</summary>" in parts[1]
    assert parts[-1].rstrip().endswith(
        "**Plan&#58; 1,500 investors to add in 8 transactions&#46;**"
    )


# --- plan file and determinism -----------------------------------------------


def test_same_inputs_give_identical_bytes() -> None:
    first, second = sample_plan(), sample_plan(reverse=True)
    assert plan_json(first) == plan_json(second)
    assert render_text(first).plain == render_text(second).plain
    assert render_markdown(first) == render_markdown(second)


def test_plan_file_matches_schema() -> None:
    schema = json.loads((PROJECT_ROOT / "schemas" / "plan.schema.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    due = state(cycles=[cycle("1", payment_date=NOW - DAY)])
    for result in (sample_plan(), plan(due, observation(total_supply=1_000 * TOKEN), gas_cap=20_000_000)):
        document = json.loads(plan_json(result))
        Draft202012Validator(schema).validate(document)
        assert document["digest"] == document_digest(document)


def test_plan_file_fields() -> None:
    document = json.loads(plan_json(sample_plan()))
    assert (document["format_version"], document["environment"], document["chain_id"]) == (1, "test", 31337)
    assert document["block"] == {"number": 42, "hash": "0x" + "ab" * 32, "timestamp": NOW}
    assert document["reads"] == {"digest": "0" * 64, "values": {"chain/chain_id": "31337"}, "sets": {}}
    assert document["simulation"] == "not simulated"
    assert document["summary"]["counts"] == {
        "block": 1,
        "update_investor": 1,
        "add_investor": 1,
        "unblock": 1,
        "book": 1,
    }
    book = document["transactions"][3]
    assert book["call"]["signature"] == "book((bytes32,bytes32,address,uint256,uint256)[])"
    assert book["call"]["arguments"][0]["value"] == [
        [
            "0x" + b"A-1".ljust(32, b"\0").hex(),
            "0x" + b"RegS".ljust(32, b"\0").hex(),
            address(1),
            str(1_000 * TOKEN),
            "1000000",
        ]
    ]
    assert (book["gas_estimate"], book["actions"], book["stages"]) == (260_000, [5], ["dependent"])


def test_printable_escapes_control_and_bidi() -> None:
    assert printable("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert printable("SDNY \u202e1:26") == "SDNY \\u202e1:26"
    assert printable("plain text, 1:26-cv") == "plain text, 1:26-cv"

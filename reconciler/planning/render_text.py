"""The plan for a terminal: Terraform-like, grouped by kind, with `+`, `~` and `-` markers.

`render_text` returns a rich `Text`. Its styles become colours only when the
console writes to a terminal, and `Text.plain` is the same output without
them. Rich never parses markup inside a `Text`, so a value from the YAML
cannot inject styles, and `printable` escapes the control characters a
terminal would act on, which values read from the chain may hold. The output
depends only on the plan.
"""

from __future__ import annotations

import re

from rich.text import Text

from reconciler.desired.schema import CONTROL_CHARACTER_RE
from reconciler.planning.changes import Kind
from reconciler.planning.plan import Plan
from reconciler.planning.records import Action, ScheduledCoupon, show_time
from reconciler.planning.transactions import Transaction

MARKER_STYLES = {"+": "green", "~": "yellow", "-": "red"}

# Section titles in the order they are shown. The None section lists the USDC approval.
SECTIONS: tuple[tuple[Kind | None, str], ...] = (
    (Kind.PAUSE, "Pause"),
    (Kind.ROLE, "Roles"),
    (Kind.INVESTOR, "Investors"),
    (Kind.SANCTIONS_ENTRY, "Sanctions"),
    (Kind.ALLOCATION, "Allocations"),
    (None, "USDC allowance"),
    (Kind.COUPON_CYCLE, "Coupon cycles"),
    (Kind.CAP_TABLE_SNAPSHOT, "Cap-table snapshots"),
    (Kind.CUSTODY_ATTESTATION, "Custody attestations"),
    (Kind.FORCE_TRANSFER, "Court-ordered force transfers"),
)


def render_text(plan: Plan) -> Text:
    """Render PLAN: header, actions by kind, scheduled coupons, transactions, warnings, summary line."""
    out = Text()

    # Where and on what the plan was made.
    environment = plan.environment
    out.append(f"JINBI plan for {environment.name}", style="bold")
    out.append(
        f": chain {plan.chain_id}, block {plan.block_number} ({plan.block_hash}), "
        f"chain time {show_time(plan.block_timestamp)}\n"
    )
    out.append(f"Signer {plan.signer}, gas cap {plan.gas_cap:,} per transaction, ")
    out.append(f"{plan.simulation}.\n", style="yellow" if plan.simulation == "not simulated" else "")
    if plan.force_transfer_orders:
        out.append(f"\n{force_transfer_banner(plan)}\n", style="bold red")

    # The actions, grouped by kind, each with the YAML line that requests it.
    for kind, title in SECTIONS:
        actions = [action for action in plan.actions if action.kind is kind]
        scheduled = plan.scheduled if kind is Kind.COUPON_CYCLE else ()
        if not actions and not scheduled:
            continue
        out.append(f"\n{title}\n", style="bold")
        for action in actions:
            _action_line(out, action)
        for item in scheduled:
            out.append("    ")
            out.append(printable(item.cycle_id))
            out.append(f"  {printable(describe_scheduled(item))}")
            out.append(_where(item.position))
            out.append("\n")

    # The transactions apply would send, in order.
    if plan.transactions:
        out.append("\nTransactions, in sending order\n", style="bold")
        for number, transaction in enumerate(plan.transactions, start=1):
            out.append(f"  {number}. {describe_transaction(transaction)}\n")

    if plan.warnings:
        out.append("\nWarnings\n", style="bold")
        for warning in plan.warnings:
            out.append("  ! ", style="yellow")
            out.append(f"{warning.code}: {printable(warning.message)}\n")

    out.append("\n")
    out.append(plan.summary(), style="bold")
    out.append("\n")
    return out


def printable(text: str) -> str:
    """Return TEXT with control and bidi characters escaped as \\xNN or \\uNNNN, so it shows as it is."""
    return CONTROL_CHARACTER_RE.sub(_escaped, text)


def _escaped(found: re.Match[str]) -> str:
    code = ord(found.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def force_transfer_banner(plan: Plan) -> str:
    """Warn that PLAN moves holders' tokens by court order, naming the orders."""
    orders = plan.force_transfer_orders
    count = len(orders)
    return (
        f"WARNING: this plan contains {count} court-ordered force {'transfer' if count == 1 else 'transfers'} "
        f"({', '.join(orders)}): {'it moves' if count == 1 else 'they move'} tokens without the holder's consent "
        "and cannot be undone. `jinbi apply` sends a force transfer only with --allow-force-transfer."
    )


def describe_transaction(transaction: Transaction) -> str:
    """Describe a transaction in one line, such as "ComplianceRegistry.setInvestors, 40 items, from 0x… to 0x…, ~2,060,000 gas (estimate), permissive"."""
    count = len(transaction.actions)
    items = f"{count} {'item' if count == 1 else 'items'}, " if transaction.function.spec.batched else ""
    stages = "/".join(stage.label for stage in transaction.stages)
    return (
        f"{transaction.function.qualified_name}, {items}from {transaction.sender} to {transaction.to}, "
        f"~{transaction.gas_estimate:,} gas (estimate), {stages}"
    )


def _action_line(out: Text, action: Action) -> None:
    marker = action.verb.marker
    out.append(f"  {marker} ", style=MARKER_STYLES[marker])
    out.append(printable(action.key))
    out.append(f"  {printable(action.description)}")
    if action.verb.name == "UPDATE_INVESTOR":
        out.append(f" [{action.stage.label}]")
    out.append(_where(action.position))
    out.append("\n")


def _where(position: object) -> str:
    return f"  ({position})" if position is not None else ""


def describe_scheduled(item: ScheduledCoupon) -> str:
    """Describe a scheduled cycle, such as "scheduled for 2027-03-31: would pay 2027-Q1 at 125 bps: …"."""
    return f"scheduled for {show_time(item.payment_date)}: would pay {item.period} at {item.rate_bps} bps: {item.rule}"

"""The month-end report as terminal text, markdown or JSON.

All three show the same facts in the same order: the block, the balance
differences with their explanation, the cap-table snapshots, the coupon
history and the month's counts. JSON amounts are decimal strings of base
units, so no reader turns them into floats. Callers: `jinbi report month-end`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from reconciler.desired.values import format_datetime
from reconciler.planning.records import show_tokens, show_usdc
from reconciler.planning.render_markdown import escape
from reconciler.reports.month_end import BalanceLine, MonthEndReport, Movement, SnapshotStatus


def _where(report: MonthEndReport) -> str:
    block = report.block
    at = f"block {block.number} ({format_datetime(block.timestamp)}, {block.hash})"
    if report.month_ended:
        return f"at {at}, the last block of the month"
    return f"at the latest {at}: the month has not ended, so the figures are not final"


def _movement(movement: Movement, report: MonthEndReport) -> str:
    amount = show_tokens(movement.amount, report.token_decimals)
    order = f" (order {movement.order_id})" if movement.order_id else ""
    return (
        f"{movement.kind}{order} of {amount} {movement.partition.value} from {movement.sender} "
        f"to {movement.receiver} in block {movement.block} (tx {movement.tx_hash})"
    )


def _explanation(line: BalanceLine, report: MonthEndReport) -> str:
    decimals = report.token_decimals
    if not line.movements:
        return "not explained: no transfer or force transfer moved this holder's tokens"
    if line.explained:
        count = len(line.movements)
        return f"explained by {count} {'movement' if count == 1 else 'movements'}"
    return (
        f"not explained: the movements account for {_signed(line.moved, decimals)}, "
        f"leaving {_signed(line.difference - line.moved, decimals)}"
    )


def _signed(amount: int, decimals: int) -> str:
    sign = "-" if amount < 0 else "+"
    return sign + show_tokens(abs(amount), decimals)


def _difference(line: BalanceLine, report: MonthEndReport) -> str:
    decimals = report.token_decimals
    return (
        f"{line.holder} {line.partition.value}: on chain {show_tokens(line.on_chain, decimals)}, settled allocations "
        f"{show_tokens(line.settled, decimals)}, difference {_signed(line.difference, decimals)}"
    )


def _snapshot(status: SnapshotStatus, quote: Callable[[str], str] = str) -> str:
    """Describe STATUS; QUOTE is applied to the text that comes from the chain."""
    if status.cid is None or status.recorded_at is None:
        return f"{quote(status.period)}: missing"
    return f"{quote(status.period)}: recorded at {format_datetime(status.recorded_at)}, CID {quote(status.cid)}"


def _counts(report: MonthEndReport) -> str:
    return (
        f"{report.rejections} compliance {'rejection' if report.rejections == 1 else 'rejections'}, "
        f"{report.force_transfers} force {'transfer' if report.force_transfers == 1 else 'transfers'} and "
        f"{report.transfers} secondary {'transfer' if report.transfers == 1 else 'transfers'} "
        f"from block {report.month_first_block} to block {report.block.number}"
    )


def render_text(report: MonthEndReport) -> str:
    """Render REPORT for a terminal."""
    usdc = report.usdc_decimals
    holders = len({line.holder for line in report.lines})
    lines = [
        f"Month-end {report.month.name} of {report.environment} (chain {report.chain_id}) {_where(report)}",
        "",
        f"Balances: {holders} holders, {len(report.differences)} differences from the settled allocations",
    ]
    for line in report.differences:
        lines.append(f"  {_difference(line, report)}: {_explanation(line, report)}")
        lines.extend(f"    {_movement(movement, report)}" for movement in line.movements)
    lines += ["", "Cap-table snapshots:"]
    lines += [f"  {_snapshot(status)}" for status in report.snapshots]
    lines += ["", f"Coupons paid up to block {report.block.number}: {len(report.coupons)}"]
    lines += [
        f"  cycle {cycle.id} ({cycle.period}, {cycle.rate_bps} bps): {show_usdc(cycle.amount or 0, usdc)} "
        f"paid at {format_datetime(cycle.paid_at or 0)}"
        for cycle in report.coupons
    ]
    lines += ["", f"In the month: {_counts(report)}"]
    return "\n".join(lines) + "\n"


def render_markdown(report: MonthEndReport) -> str:
    """Render REPORT as markdown; text from the chain (periods, CIDs) is escaped."""
    tokens, usdc = report.token_decimals, report.usdc_decimals
    lines = [
        f"# Month-end {report.month.name}: {escape(report.environment)}",
        "",
        f"Chain {report.chain_id}, {_where(report)}.",
        "",
        "## Balances against the settled allocations",
        "",
    ]
    if report.differences:
        lines += [
            "| Holder | Partition | On chain | Settled | Difference | Explanation |",
            "|---|---|---:|---:|---:|---|",
        ]
        for line in report.differences:
            lines.append(
                f"| `{line.holder}` | {line.partition.value} | {show_tokens(line.on_chain, tokens)} | "
                f"{show_tokens(line.settled, tokens)} | {_signed(line.difference, tokens)} | "
                f"{_explanation(line, report)} |"
            )
        lines.append("")
        for line in report.differences:
            lines.extend(f"- `{line.holder}` {line.partition.value}: {_movement(m, report)}" for m in line.movements)
    else:
        lines.append(f"Every holder's balance equals its settled allocations ({len(report.lines)} balances).")
    lines += ["", "## Cap-table snapshots", ""]
    lines += [f"- {_snapshot(status, escape)}" for status in report.snapshots]
    lines += ["", f"## Coupons paid up to block {report.block.number}", ""]
    if report.coupons:
        lines += ["| Cycle | Period | Rate | Amount | Paid at |", "|---|---|---:|---:|---|"]
        lines += [
            f"| {cycle.id} | {escape(cycle.period)} | {cycle.rate_bps} bps | {show_usdc(cycle.amount or 0, usdc)} | "
            f"{format_datetime(cycle.paid_at or 0)} |"
            for cycle in report.coupons
        ]
    else:
        lines.append("None.")
    lines += ["", "## In the month", "", _counts(report) + "."]
    return "\n".join(lines) + "\n"


def render_json(report: MonthEndReport) -> str:
    """Render REPORT as one JSON document."""
    block = report.block
    document: dict[str, Any] = {
        "environment": report.environment,
        "chain_id": report.chain_id,
        "period": report.month.name,
        "block": {"number": block.number, "hash": block.hash, "timestamp": block.timestamp},
        "month_ended": report.month_ended,
        "balances": [
            {
                "holder": line.holder,
                "partition": line.partition.value,
                "on_chain": str(line.on_chain),
                "settled": str(line.settled),
                "difference": str(line.difference),
                "explained": line.explained,
                "movements": [
                    {
                        "kind": movement.kind,
                        "order_id": movement.order_id or None,
                        "from": movement.sender,
                        "to": movement.receiver,
                        "amount": str(movement.amount),
                        "block": movement.block,
                        "tx_hash": movement.tx_hash,
                    }
                    for movement in line.movements
                ],
            }
            for line in report.lines
        ],
        "snapshots": [
            {
                "period": status.period,
                "recorded": status.cid is not None,
                "cid": status.cid,
                "recorded_at": status.recorded_at,
            }
            for status in report.snapshots
        ],
        "coupons": [
            {
                "cycle": cycle.id,
                "period": cycle.period,
                "rate_bps": cycle.rate_bps,
                "amount": str(cycle.amount),
                "paid_at": cycle.paid_at,
            }
            for cycle in report.coupons
        ],
        "month": {
            "first_block": report.month_first_block,
            "compliance_rejections": report.rejections,
            "force_transfers": report.force_transfers,
            "secondary_transfers": report.transfers,
        },
    }
    return json.dumps(document, indent=2) + "\n"

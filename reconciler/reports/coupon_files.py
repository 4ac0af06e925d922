"""Coupon statements as files: one CSV and one markdown statement per holder, and a summary of both kinds.

Files are named by the holder's address in lower case (`holder-0x….csv`), so
names are safe on every file system and the same on every run. Token amounts
are given in base units and in JINBI, USDC amounts in base units and in USDC.
Text that comes from the chain (the period) goes through the markdown escape
of the plan renderer. Callers: `jinbi report coupons`.
"""

from __future__ import annotations

import csv
import errno
import io
import re
from dataclasses import dataclass
from pathlib import Path

from reconciler.desired.values import format_datetime
from reconciler.errors import ReportError
from reconciler.model import Partition
from reconciler.money import format_base_units
from reconciler.planning.records import show_time, show_tokens, show_usdc
from reconciler.planning.render_markdown import escape
from reconciler.reports.coupons import CouponStatements, Entitlement

SUMMARY_STEM = "summary"

# The names of the statements this module writes; an earlier run's statement of a former holder is removed.
_STATEMENT_NAME_RE = re.compile(r"^holder-0x[0-9a-f]{40}\.(csv|md)$")


@dataclass(frozen=True)
class WrittenStatements:
    """The folder and files of one cycle's statements, with the statements themselves."""

    statements: CouponStatements
    folder: Path
    files: tuple[Path, ...]
    removed: tuple[Path, ...] = ()  # statements of an earlier run whose holder has none in this one

    def describe(self) -> str:
        """Return the lines `jinbi report coupons` prints: the folder, then the totals."""
        report = self.statements
        cycle = report.cycle
        decimals = report.usdc_decimals
        status = "projected" if cycle.projected else "paid"
        holders = len(report.entitlements)
        return (
            f"wrote {holders} holder {'statement' if holders == 1 else 'statements'} (CSV and markdown) and the "
            f"summary of coupon cycle {cycle.id} ({cycle.period}, {status}) to {self.folder}/\n"
            f"record date {show_time(cycle.record_date)}: balances at block {report.holdings.block.number} "
            f"({format_datetime(report.holdings.block.timestamp)}), "
            f"{show_tokens(report.holdings.total_supply, report.token_decimals)} in total\n"
            f"amount {show_usdc(cycle.amount, decimals)}, distributed {show_usdc(report.distributed, decimals)}, "
            f"remainder {show_usdc(report.remainder, decimals)}\n"
            + self._removed_line()
        )

    def _removed_line(self) -> str:
        if not self.removed:
            return ""
        names = ", ".join(path.name for path in self.removed)
        return f"removed {len(self.removed)} statement file(s) of an earlier run whose holder has none now: {names}\n"


def statement_stem(holder: str) -> str:
    """Return the file name, without suffix, of HOLDER's statement."""
    return f"holder-{holder.lower()}"


def write_statements(statements: CouponStatements, folder: Path) -> WrittenStatements:
    """Write every holder's statement and the summary into FOLDER, creating it; files of the same name are replaced.

    Holder statements of an earlier run that this run does not write are
    removed, so the folder holds one cycle's statements only. Other files are
    left alone. Raises ReportError when FOLDER cannot be created or written.
    """
    try:
        return _write_statements(statements, folder)
    except OSError as error:
        raise _folder_error(folder, error) from error


def _folder_error(folder: Path, error: OSError) -> ReportError:
    reason = error.strerror or type(error).__name__
    where = f" ({error.filename})" if error.filename and str(error.filename) != str(folder) else ""
    if error.errno in (errno.EEXIST, errno.ENOTDIR):
        hint = "give --out a folder: a path that does not exist yet or is a folder, not a file"
    elif error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = "give --out a folder you can write to, or change the folder's permissions"
    else:
        hint = "give --out another folder"
    return ReportError(f"cannot write the coupon statements to the folder {folder}: {reason}{where}", hint=hint)


def _write_statements(statements: CouponStatements, folder: Path) -> WrittenStatements:
    folder.mkdir(parents=True, exist_ok=True)
    contents: dict[str, str] = {}
    for entitlement in statements.entitlements:
        stem = statement_stem(entitlement.holder)
        contents[f"{stem}.csv"] = statement_csv(statements, entitlement)
        contents[f"{stem}.md"] = statement_markdown(statements, entitlement)
    contents[f"{SUMMARY_STEM}.csv"] = summary_csv(statements)
    contents[f"{SUMMARY_STEM}.md"] = summary_markdown(statements)

    # Statements of former holders go, so that the folder lists this run's holders only.
    removed = sorted(
        path for path in folder.iterdir() if _STATEMENT_NAME_RE.fullmatch(path.name) and path.name not in contents
    )
    for path in removed:
        path.unlink()

    written = []
    for name, text in sorted(contents.items()):
        path = folder / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return WrittenStatements(statements, folder, tuple(written), tuple(removed))


# --- CSV ---------------------------------------------------------------------

STATEMENT_COLUMNS = (
    "environment",
    "chain_id",
    "cycle_id",
    "period",
    "status",
    "rate_bps",
    "record_date",
    "record_block",
    "record_block_hash",
    "record_block_time",
    "payment_date",
    "paid_at",
    "holder",
    "balance_144A_base_units",
    "balance_RegS_base_units",
    "balance_base_units",
    "total_balance_base_units",
    "cycle_amount_usdc_base_units",
    "entitlement_usdc_base_units",
    "entitlement_usdc",
    "remainder_usdc_base_units",
)

SUMMARY_COLUMNS = (
    "holder",
    "balance_144A_base_units",
    "balance_RegS_base_units",
    "balance_base_units",
    "entitlement_usdc_base_units",
    "entitlement_usdc",
)


def _csv(rows: list[tuple[object, ...]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows(rows)
    return buffer.getvalue()


def statement_csv(statements: CouponStatements, entitlement: Entitlement) -> str:
    """Return HOLDER's statement as CSV: a header line and one row."""
    cycle = statements.cycle
    block = statements.holdings.block
    row = (
        statements.environment,
        statements.holdings.chain_id,
        cycle.id,
        cycle.period,
        "projected" if cycle.projected else "paid",
        cycle.rate_bps,
        show_time(cycle.record_date),
        block.number,
        block.hash,
        format_datetime(block.timestamp),
        show_time(cycle.payment_date),
        "" if cycle.paid_at is None else format_datetime(cycle.paid_at),
        entitlement.holder,
        entitlement.balances[Partition.RULE_144A],
        entitlement.balances[Partition.REG_S],
        entitlement.balance,
        statements.holdings.total_supply,
        cycle.amount,
        entitlement.amount,
        format_base_units(entitlement.amount, statements.usdc_decimals, min_places=statements.usdc_decimals),
        statements.remainder,
    )
    return _csv([STATEMENT_COLUMNS, row])


def summary_csv(statements: CouponStatements) -> str:
    """Return the summary as CSV: one row per holder, then a `total` row and a `remainder` row."""
    decimals = statements.usdc_decimals
    rows: list[tuple[object, ...]] = [SUMMARY_COLUMNS]
    for entitlement in statements.entitlements:
        rows.append(
            (
                entitlement.holder,
                entitlement.balances[Partition.RULE_144A],
                entitlement.balances[Partition.REG_S],
                entitlement.balance,
                entitlement.amount,
                format_base_units(entitlement.amount, decimals, min_places=decimals),
            )
        )
    supply = statements.holdings.supply
    rows.append(
        (
            "total",
            supply[Partition.RULE_144A],
            supply[Partition.REG_S],
            statements.holdings.total_supply,
            statements.distributed,
            format_base_units(statements.distributed, decimals, min_places=decimals),
        )
    )
    rows.append(
        (
            "remainder",
            "",
            "",
            "",
            statements.remainder,
            format_base_units(statements.remainder, decimals, min_places=decimals),
        )
    )
    return _csv(rows)


# --- markdown ----------------------------------------------------------------


def _heading(statements: CouponStatements) -> str:
    cycle = statements.cycle
    status = "projected" if cycle.projected else "paid"
    return f"coupon cycle {cycle.id} ({escape(cycle.period)}), {status}"


def _cycle_rows(statements: CouponStatements) -> list[str]:
    cycle = statements.cycle
    block = statements.holdings.block
    usdc = statements.usdc_decimals
    paid = "not yet" if cycle.paid_at is None else format_datetime(cycle.paid_at)
    return [
        f"| Environment | {escape(statements.environment)} (chain {statements.holdings.chain_id}) |",
        f"| Rate | {cycle.rate_bps} bps of face value |",
        f"| Record date | {show_time(cycle.record_date)}, balances at block {block.number} "
        f"({format_datetime(block.timestamp)}, the last block at or before {format_datetime(cycle.record_day_end)}) |",
        f"| Record block hash | `{block.hash}` |",
        f"| Payment date | {show_time(cycle.payment_date)} |",
        f"| Paid | {paid} |",
        f"| Cycle amount | {show_usdc(cycle.amount, usdc)} ({cycle.amount} base units), {cycle.amount_source} |",
        f"| Total balance at the record block | "
        f"{show_tokens(statements.holdings.total_supply, statements.token_decimals)} |",
        f"| Undistributed remainder of the cycle | {show_usdc(statements.remainder, usdc)} "
        f"({statements.remainder} base units) |",
    ]


def _projection_note(statements: CouponStatements) -> list[str]:
    if not statements.cycle.projected:
        return []
    return [
        "",
        "**Projected:** the cycle is not paid yet. The amount is the one the plan would pay now, "
        f"from the token's supply at block {statements.latest_block}, and changes if the supply does.",
    ]


def statement_markdown(statements: CouponStatements, entitlement: Entitlement) -> str:
    """Return HOLDER's statement as markdown."""
    tokens = statements.token_decimals
    usdc = statements.usdc_decimals
    total = statements.holdings.total_supply
    lines = [
        f"# Coupon statement: {_heading(statements)}",
        "",
        f"Holder: `{entitlement.holder}`",
        *_projection_note(statements),
        "",
        "| | |",
        "|---|---|",
        *_cycle_rows(statements),
        f"| Balance 144A | {show_tokens(entitlement.balances[Partition.RULE_144A], tokens)} |",
        f"| Balance RegS | {show_tokens(entitlement.balances[Partition.REG_S], tokens)} |",
        f"| Balance | {show_tokens(entitlement.balance, tokens)} |",
        f"| **Entitlement** | **{show_usdc(entitlement.amount, usdc)}** ({entitlement.amount} base units) |",
        "",
        f"Entitlement = floor({statements.cycle.amount} x {entitlement.balance} / {total}) USDC base units: "
        "the cycle's amount times the holder's balance in both partitions over the total balance, rounded down.",
    ]
    return "\n".join(lines) + "\n"


def summary_markdown(statements: CouponStatements) -> str:
    """Return the summary as markdown: the cycle, then one table row per holder, the total and the remainder."""
    tokens = statements.token_decimals
    usdc = statements.usdc_decimals
    supply = statements.holdings.supply
    lines = [
        f"# Coupon summary: {_heading(statements)}",
        *_projection_note(statements),
        "",
        "| | |",
        "|---|---|",
        *_cycle_rows(statements),
        "",
        "| Holder | 144A | RegS | Balance | Entitlement |",
        "|---|---:|---:|---:|---:|",
    ]
    for entitlement in statements.entitlements:
        lines.append(
            f"| `{entitlement.holder}` | {show_tokens(entitlement.balances[Partition.RULE_144A], tokens)} | "
            f"{show_tokens(entitlement.balances[Partition.REG_S], tokens)} | "
            f"{show_tokens(entitlement.balance, tokens)} | "
            f"{show_usdc(entitlement.amount, usdc)} |"
        )
    lines += [
        f"| **Total** | {show_tokens(supply[Partition.RULE_144A], tokens)} | "
        f"{show_tokens(supply[Partition.REG_S], tokens)} | "
        f"{show_tokens(statements.holdings.total_supply, tokens)} | {show_usdc(statements.distributed, usdc)} |",
        f"| **Remainder** (undistributed) | | | | {show_usdc(statements.remainder, usdc)} |",
        "",
        f"{len(statements.entitlements)} holders; distributed {show_usdc(statements.distributed, usdc)} "
        f"+ remainder {show_usdc(statements.remainder, usdc)} = amount {show_usdc(statements.cycle.amount, usdc)}.",
    ]
    return "\n".join(lines) + "\n"

"""The plan as GitHub-flavoured markdown for a pull-request comment.

`render_markdown` returns one or more comment bodies: a summary table, then
one collapsible section per kind with a row per action, each linked to the
YAML line that caused it, then the transactions and the warnings. A body
longer than `MAX_BODY_CHARS` is split between table rows into numbered
parts, and every part starts with the plan's digest, so a reviewer can tell
that the parts belong to one plan.

Every value that may come from the YAML or the chain goes through `escape`,
so nothing in a state file can inject markdown, HTML or @-mentions.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

from reconciler.desired.diagnostics import SourcePosition
from reconciler.planning.changes import Kind
from reconciler.planning.plan import Plan, plan_digest
from reconciler.planning.records import Action
from reconciler.planning.render_text import SECTIONS, describe_scheduled, force_transfer_banner

# GitHub's REST API rejects a longer comment with "body is too long (maximum is
# 65536 characters)". The margin leaves room for a bot's own header or footer,
# and `escape` keeps bodies ASCII, so characters and bytes are the same count.
MAX_BODY_CHARS = 65_000

# Hex digits of a commit shown in comments: enough to be unique in any repository of this size.
SHORT_COMMIT = 12

_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,-()")
_ZERO_WIDTH_SPACE = "&#8203;"


def escape(text: str) -> str:
    """Return TEXT safe to place in markdown prose or a table cell, rendering as the same characters.

    Letters, digits, spaces, commas, hyphens and parentheses stay. Every other
    character becomes a numeric character reference, which markdown never
    reads as syntax: no emphasis, links, HTML, table cells or autolinks. "@"
    and "#" are followed by a zero-width space, so GitHub links no user, team
    or issue. Control and format characters (line breaks, bidirectional
    overrides) become U+FFFD, the replacement character.
    """
    out: list[str] = []
    for character in text:
        if character in _PLAIN:
            out.append(character)
            continue
        if unicodedata.category(character) in ("Cc", "Cf", "Zl", "Zp"):
            character = "\ufffd"
        out.append(f"&#{ord(character)};")
        if character in "@#":
            out.append(_ZERO_WIDTH_SPACE)
    return "".join(out)


@dataclass(frozen=True)
class _Table:
    """A collapsible table: rows are never split, and a part that continues it repeats its head."""

    summary: str  # already escaped
    head: str
    rows: tuple[str, ...]

    def opening(self, continued: bool) -> str:
        title = f"{self.summary}, continued" if continued else self.summary
        return f"<details><summary>{title}</summary>\n\n{self.head}\n"


_CLOSING = "\n</details>\n\n"


def render_markdown(plan: Plan, *, link_base: str | None = None, max_chars: int = MAX_BODY_CHARS) -> list[str]:
    """Render PLAN as comment bodies of at most MAX_CHARS characters each.

    LINK_BASE, such as https://github.com/org/repo/blob/<commit>/, is put in
    front of each YAML file path in links; without it links are relative.
    """
    digest = plan_digest(plan)
    intro = _intro(plan)
    tables = _tables(plan, link_base)
    footer = f"\n**{escape(plan.summary())}**\n"

    # Reserve room for the longest header a part can get ("part 9999 of 9999").
    header_room = len(_header(plan, digest, 9999, 9999))
    budget = max_chars - header_room
    bodies = _split(intro, tables, footer, budget)
    count = len(bodies)
    return [_header(plan, digest, number, count) + body for number, body in enumerate(bodies, start=1)]


def _header(plan: Plan, digest: str, number: int, count: int) -> str:
    part = f", part {number} of {count}" if count > 1 else ""
    return (
        f"<!-- jinbi-plan environment={escape(plan.environment.name)} digest={digest} part={number}/{count} -->\n"
        f"### JINBI plan for {escape(plan.environment.name)}{part}\n\n"
        f"Plan digest {escape(digest)}\n\n"
    )


def _intro(plan: Plan) -> str:
    commit = escape(plan.git_commit) if plan.git_commit else "none (not a git checkout)"
    lines = [
        f"Chain {plan.chain_id} at block {plan.block_number} ({escape(plan.block_hash)}), "
        f"git commit {commit}, signer {escape(plan.signer)}, {escape(plan.simulation)}.",
        "",
    ]
    if plan.force_transfer_orders:
        lines += [f"> [!WARNING]\n> **{escape(force_transfer_banner(plan))}**", ""]
    lines += [
        *_provenance(plan),
        "| change | count |",
        "|---|---:|",
    ]
    for verb, count in plan.verb_counts().items():
        lines.append(f"| {escape(verb.plural)} | {count} |")
    lines.append(f"| transactions | {len(plan.transactions)} |")
    if plan.scheduled:
        lines.append(f"| coupon cycles scheduled | {len(plan.scheduled)} |")
    if plan.warnings:
        lines.append(f"| warnings | {len(plan.warnings)} |")
    return "\n".join(lines) + "\n\n"


def _provenance(plan: Plan) -> list[str]:
    """Return the branch, author and merge-base line and a blank line, or nothing without git metadata."""
    git = plan.git
    if git is None:
        return []
    branch = escape(git.branch) if git.branch else "unknown (detached HEAD)"
    if git.merge_base is None:
        base = "no base branch found, so only uncommitted files count as changed"
    else:
        base = f"merge base {escape(git.merge_base[:SHORT_COMMIT])} with {escape(git.base_ref or '')}"
    count = len(git.changed_files)
    files = f"{count} {'file' if count == 1 else 'files'} changed"
    return [f"Branch {branch}, author {escape(git.author)}, {base}: {files}.", ""]


def _tables(plan: Plan, link_base: str | None) -> list[_Table]:
    tables: list[_Table] = []
    head = "| | item | change | source |\n|---|---|---|---|"
    for kind, title in SECTIONS:
        actions = [action for action in plan.actions if action.kind is kind]
        scheduled = plan.scheduled if kind is Kind.COUPON_CYCLE else ()
        if not actions and not scheduled:
            continue
        rows = [_action_row(action, plan, link_base) for action in actions]
        rows += [
            f"| | {escape(item.cycle_id)} | {escape(describe_scheduled(item))} | {_link(item.position, link_base)} |"
            for item in scheduled
        ]
        summary = f"{title}: {len(actions)} to change"
        if scheduled:
            summary += f", {len(scheduled)} scheduled"
        tables.append(_Table(escape(summary), head, tuple(rows)))

    if plan.transactions:
        rows = []
        for number, transaction in enumerate(plan.transactions, start=1):
            count = len(transaction.actions)
            stages = "/".join(stage.label for stage in transaction.stages)
            rows.append(
                f"| {number} | {escape(transaction.function.qualified_name)} | {count} | {escape(transaction.to)} "
                f"| {transaction.gas_estimate:,} | {stages} |"
            )
        head_tx = "| # | call | items | to | gas (estimate) | stages |\n|---:|---|---:|---|---:|---|"
        tables.append(_Table(f"Transactions: {len(plan.transactions)}", head_tx, tuple(rows)))

    if plan.warnings:
        rows = [f"| {escape(warning.code)} | {escape(warning.message)} |" for warning in plan.warnings]
        tables.append(_Table(f"Warnings: {len(plan.warnings)}", "| code | warning |\n|---|---|", tuple(rows)))

    if plan.git is not None and plan.git.changed_files:
        rows = [f"| {escape(name)} |" for name in plan.git.changed_files]
        summary = f"Files changed since the merge base: {len(rows)}"
        tables.append(_Table(escape(summary), "| file |\n|---|", tuple(rows)))
    return tables


def _action_row(action: Action, plan: Plan, link_base: str | None) -> str:
    marker = action.verb.marker
    stage = f" ({action.stage.label})" if action.verb.name == "UPDATE_INVESTOR" else ""
    return (
        f"| <code>{escape(marker)}</code> | {escape(action.key)} | {escape(action.description + stage)} "
        f"| {_link(action.position, link_base)}{_last_change(action.position, plan)} |"
    )


def _last_change(position: SourcePosition | None, plan: Plan) -> str:
    """Return ", last changed in COMMIT" for the line at POSITION, or "" without git metadata."""
    if position is None or plan.git is None:
        return ""
    commit = plan.git.line_commits.get((position.file, position.line))
    if commit is None:
        return ", uncommitted"
    return f", last changed in {escape(commit[:SHORT_COMMIT])}"


def _link(position: SourcePosition | None, link_base: str | None) -> str:
    if position is None:
        return ""
    target = quote(position.file, safe="/") + f"#L{position.line}"
    if link_base:
        target = quote(link_base.rstrip("/"), safe=":/@") + "/" + target
    label = escape(f"{position.file.rpartition('/')[2]}:{position.line}")
    return f"[{label}](<{target}>)"


def _split(intro: str, tables: Sequence[_Table], footer: str, budget: int) -> list[str]:
    """Pack the intro, the table rows and the footer into bodies of at most BUDGET characters.

    A body ends at a row boundary; a table cut there is closed and reopened,
    head included, at the start of the next body.
    """
    bodies: list[str] = []
    current = intro
    for table in tables:
        opening = table.opening(continued=False)
        for row in table.rows:
            line = row + "\n"
            if len(current) + len(opening) + len(line) + len(_CLOSING) > budget and current.strip():
                if opening:  # the table has not started in this body: start it in the next
                    bodies.append(current)
                else:
                    bodies.append(current + _CLOSING)
                    opening = table.opening(continued=True)
                current = ""
            if len(opening) + len(line) + len(_CLOSING) > budget:
                raise ValueError(f"a table row of {len(line)} characters does not fit in a body of {budget}")
            current += opening + line
            opening = ""
        if not opening:
            current += _CLOSING
    if len(current) + len(footer) > budget and current.strip():
        bodies.append(current)
        current = ""
    bodies.append(current + footer)
    return bodies

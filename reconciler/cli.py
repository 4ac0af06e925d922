"""The `jinbi` command line.

This is the only module that turns errors into output and exit codes. A
`JinbiError` prints its message and hint on stderr and exits 1. Any other
exception does the same with its type name, and shows a traceback only with
`--debug`. Results go to stdout, logs and errors to stderr.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from reconciler.errors import JinbiError
from reconciler.planning.calls import DEFAULT_GAS_CAP

log = logging.getLogger(__name__)

app = typer.Typer(
    name="jinbi",
    help="Reconcile the JINBI bond's on-chain state with the YAML under state/<env>/.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
devnet_app = typer.Typer(
    help="Run a local anvil chain with the JINBI contracts deployed.",
    no_args_is_help=True,
)
app.add_typer(devnet_app, name="devnet")

_debug = False

StateDirOption = Annotated[
    Path,
    typer.Option("--state-dir", help="Folder that contains one subfolder of YAML files per environment."),
]
PortOption = Annotated[
    int,
    typer.Option("--port", min=1, max=65535, help="TCP port of the local anvil on 127.0.0.1."),
]


@app.callback()
def _main_options(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="More log output.")] = 0,
) -> None:
    global _debug
    _debug = debug
    level = logging.WARNING
    if verbose == 1:
        level = logging.INFO
    if debug or verbose > 1:
        level = logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


@devnet_app.command("up")
def devnet_up(
    port: PortOption = 8545,
    state_dir: StateDirOption = Path("state"),
) -> None:
    """Start anvil on 127.0.0.1:PORT, deploy the suite and write state/devnet/environment.yaml.

    Does nothing when the suite already runs on that port. Exit codes: 0 running, 1 error.
    """
    from reconciler import devnet

    result = devnet.up(port=port, state_dir=state_dir)
    typer.echo(result.describe())


@devnet_app.command("down")
def devnet_down(port: PortOption = 8545) -> None:
    """Stop the anvil that `jinbi devnet up` started on PORT. Exit codes: 0 stopped, 1 error."""
    from reconciler import devnet

    typer.echo(devnet.down(port=port))


@devnet_app.command("status")
def devnet_status(port: PortOption = 8545) -> None:
    """Show whether a local chain runs on PORT, with its process, block and deployed suite.

    Exit codes: 0 always when the status could be read, 1 error.
    """
    from reconciler import devnet

    typer.echo(devnet.status(port=port).describe())


@devnet_app.command("settle")
def devnet_settle(port: PortOption = 8545) -> None:
    """Settle every open booking on the devnet as its investor would (anvil impersonation, mock USDC).

    Exit codes: 0 done (also when nothing is open), 1 error.
    """
    from reconciler.devnet_ops import settle_open_bookings

    settlements = settle_open_bookings(port)
    for settlement in settlements:
        typer.echo(settlement.describe())
    typer.echo(f"settled {len(settlements)} {'booking' if len(settlements) == 1 else 'bookings'}")


@devnet_app.command("warp")
def devnet_warp(
    to: Annotated[str, typer.Option("--to", help="Date (YYYY-MM-DD, 00:00 UTC) or UTC time to move the clock to.")],
    port: PortOption = 8545,
) -> None:
    """Move the devnet chain's clock forward to a date, for example a coupon's payment date.

    Exit codes: 0 done (also when the clock is already past it), 1 error.
    """
    from reconciler.devnet_ops import parse_moment, warp

    typer.echo(warp(port, parse_moment(to)))


# --- desired state: validate, sanctions import -------------------------------

EnvOption = Annotated[
    str,
    typer.Option("--env", help="Environment to use: the folder under --state-dir, such as devnet."),
]


class ReportFormat(str, Enum):
    """Output of the commands that print a report: `validate` and `check`."""

    TEXT = "text"
    JSON = "json"


@app.command("validate")
def validate(
    env: EnvOption,
    state_dir: StateDirOption = Path("state"),
    output_format: Annotated[
        ReportFormat,
        typer.Option("--format", help="text: one `file:line:col: error:` line per problem; json: one document."),
    ] = ReportFormat.TEXT,
) -> None:
    """Check state/ENV/ against the schemas and the cross-file rules, offline.

    Prints every problem on stdout, sorted by file and line. Needs no chain or
    network. Exit codes: 0 valid, 1 invalid or unreadable.
    """
    from reconciler.desired import read_state
    from reconciler.desired.diagnostics import render_json, render_text

    result = read_state(state_dir, env)
    if output_format is ReportFormat.JSON:
        typer.echo(render_json(env, result.env_dir, result.diagnostics, result.counts()))
    else:
        typer.echo(render_text(result.env_dir, result.diagnostics, result.counts()))
    if not result.valid:
        raise typer.Exit(1)


sanctions_app = typer.Typer(help="Maintain the Sanctions file (blocked addresses).", no_args_is_help=True)
app.add_typer(sanctions_app, name="sanctions")


@sanctions_app.command("import")
def sanctions_import(
    file: Annotated[
        Path, typer.Argument(help="Address list: one address a line, or a JSON array of addresses.")
    ],
    env: EnvOption,
    state_dir: StateDirOption = Path("state"),
    source: Annotated[
        str,
        typer.Option("--source", help="Source written on new entries; only entries of this source are delisted."),
    ] = "OFAC-SDN",
    list_date: Annotated[
        str | None,
        typer.Option(
            "--list-date",
            help="Date of the list as YYYY-MM-DD; by default the date in the file name, which must not be "
            "after today (UTC).",
        ),
    ] = None,
    allow_mass_change: Annotated[
        bool,
        typer.Option(
            "--allow-mass-change",
            help="Allow more delistings than policy.max_revocations_per_apply of the environment file "
            "(25 when that file cannot be read).",
        ),
    ] = False,
) -> None:
    """Update the Sanctions file of ENV from a dated address list, such as an OFAC SDN extract.

    Adds listed addresses, delists entries of the same source that the list no
    longer names (keeping them with delisted_on), and rewrites the file sorted,
    in EIP-55, without its comments. Importing the same list twice changes
    nothing. Rejects a list without addresses, and writes nothing when the list
    would delist more entries than the environment's revocation limit, unless
    --allow-mass-change. Exit codes: 0 done, 1 error.
    """
    from reconciler.desired.sanctions_import import import_sanctions

    report = import_sanctions(
        state_dir, env, file, source=source, list_date=list_date, allow_mass_change=allow_mass_change
    )
    typer.echo(report.describe())


# --- chain to YAML: import ---------------------------------------------------


@app.command("import")
def import_command(
    env: EnvOption,
    state_dir: StateDirOption = Path("state"),
    out_dir: Annotated[
        Path | None,
        typer.Option("--out-dir", help="Folder to write the files to; by default STATE_DIR/ENV."),
    ] = None,
) -> None:
    """Write ENV's on-chain state as YAML, one file per kind, such as investors.yaml and cap-tables.yaml.

    Reads the chain at one block through the RPC URL named by the environment
    file. Refs, sanctions sources and dates, and trade dates, which the chain
    does not store, come from the existing files, else from placeholders named
    in each file's header. Exit codes: 0 written and valid, 1 error, or files
    written that the loader rejects (each problem is printed).
    """
    from reconciler.importing import import_state

    report = import_state(state_dir, env, out_dir=out_dir)
    typer.echo(report.describe())
    if report.diagnostics:
        for diagnostic in report.diagnostics:
            typer.echo(diagnostic.render(), err=True)
        raise report.problem_error()


# --- plan ---------------------------------------------------------------------


class PlanFormat(str, Enum):
    TEXT = "text"
    MARKDOWN = "markdown"
    JSON = "json"


@app.command("plan")
def plan_command(
    env: EnvOption,
    state_dir: StateDirOption = Path("state"),
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Also write the JSON plan file (schemas/plan.schema.json) to this path."),
    ] = None,
    output_format: Annotated[
        PlanFormat,
        typer.Option(
            "--format",
            help="text: for a terminal; markdown: pull-request comment bodies, each starting with a "
            "<!-- jinbi-plan ... --> line; json: the plan file.",
        ),
    ] = PlanFormat.TEXT,
    detailed_exitcode: Annotated[
        bool, typer.Option("--detailed-exitcode", help="Exit 2 instead of 0 when the plan has changes.")
    ] = False,
    gas_cap: Annotated[
        int,
        typer.Option(
            "--gas-cap",
            min=1,
            help="Maximum gas per transaction, by the planner's conservative gas model; "
            "batches are split to stay under it.",
        ),
    ] = DEFAULT_GAS_CAP,
    signer: Annotated[
        str | None,
        typer.Option(
            "--signer",
            help="Address (or Safe) that will send the plan; by default the address of the key in "
            "JINBI_PRIVATE_KEY, or on devnet anvil's first development account.",
        ),
    ] = None,
    allow_mass_change: Annotated[
        bool,
        typer.Option(
            "--allow-mass-change",
            help="Allow more revocations and unblocks than policy.max_revocations_per_apply.",
        ),
    ] = False,
    no_simulate: Annotated[
        bool,
        typer.Option(
            "--no-simulate",
            help="Skip running the plan on an anvil fork of the chain at the planned block before printing it.",
        ),
    ] = False,
    link_base: Annotated[
        str | None,
        typer.Option(
            "--link-base",
            help="URL put before YAML file paths in markdown links, such as "
            "https://github.com/ORG/REPO/blob/COMMIT/; by default links are relative.",
        ),
    ] = None,
    safe_batch: Annotated[
        Path | None,
        typer.Option(
            "--safe-batch",
            help="Also write the plan's transactions as a Safe Transaction Builder batch file to this path, "
            "for a Safe that has the roles; requires --signer set to the Safe's address.",
        ),
    ] = None,
) -> int:
    """Read the chain at one block, diff it against state/ENV/ and print the transactions that would reconcile them.

    Sends nothing to the chain: the plan runs on a private anvil fork first,
    unless --no-simulate. Exit codes: 0 planned (with or without changes), 2
    with --detailed-exitcode when the plan has changes, 1 error (invalid YAML,
    an edit the chain cannot make, a missing role, an unreadable chain, a
    failed simulation, --safe-batch without --signer).
    """
    from rich.console import Console

    from reconciler.planning.plan import plan_json
    from reconciler.planning.render_markdown import render_markdown
    from reconciler.planning.render_text import render_text
    from reconciler.planning.run import PlanRequest, make_plan
    from reconciler.errors import ConfigurationError
    from reconciler.planning.safe_batch import safe_batch_json

    if safe_batch is not None and signer is None:
        raise ConfigurationError(
            "--safe-batch requires --signer: the address of the Safe that has the roles and proposes the batch",
            hint="pass --signer with the Safe's address",
        )
    request = PlanRequest(
        env=env,
        state_dir=state_dir,
        signer=signer,
        gas_cap=gas_cap,
        allow_mass_change=allow_mass_change,
        simulate=not no_simulate,
    )
    plan = make_plan(request)

    if out is not None:
        out.write_text(plan_json(plan), encoding="utf-8")
        log.info("wrote the plan file %s", out)
    if safe_batch is not None:
        safe_batch.write_text(safe_batch_json(plan), encoding="utf-8")
        log.info("wrote the Safe batch file %s", safe_batch)
    if output_format is PlanFormat.JSON:
        sys.stdout.write(plan_json(plan))
    elif output_format is PlanFormat.MARKDOWN:
        typer.echo("\n".join(render_markdown(plan, link_base=link_base)), nl=False)
    else:
        console = Console(soft_wrap=True, highlight=False, emoji=False)
        if console.is_terminal:
            console.print(render_text(plan), end="")
        else:
            # Plain text without colours; rich's print costs seconds for tens of thousands of lines.
            sys.stdout.write(render_text(plan).plain)
    return 2 if detailed_exitcode and plan.has_changes else 0


@app.command("apply")
def apply_command(
    env: EnvOption,
    plan_file: Annotated[
        Path | None,
        typer.Argument(help="Plan file written by `jinbi plan --out`; without it, apply plans afresh."),
    ] = None,
    state_dir: StateDirOption = Path("state"),
    auto_approve: Annotated[
        bool, typer.Option("--auto-approve", help="Send without asking for confirmation (for the merge job).")
    ] = False,
    gas_cap: Annotated[
        int, typer.Option("--gas-cap", min=1, help="Maximum gas per transaction when apply plans afresh.")
    ] = DEFAULT_GAS_CAP,
    allow_mass_change: Annotated[
        bool,
        typer.Option("--allow-mass-change", help="Allow more revocations and unblocks than the policy limit."),
    ] = False,
    allow_force_transfer: Annotated[
        bool,
        typer.Option(
            "--allow-force-transfer",
            help="Send the plan's court-ordered force transfers. Without it, a plan that contains any is rejected.",
        ),
    ] = False,
    no_simulate: Annotated[
        bool, typer.Option("--no-simulate", help="Skip the anvil fork simulation when apply plans afresh.")
    ] = False,
    max_fee_gwei: Annotated[
        int | None, typer.Option("--max-fee-gwei", min=1, help="Cap of maxFeePerGas, in gwei.")
    ] = None,
    max_priority_fee_gwei: Annotated[
        int | None, typer.Option("--max-priority-fee-gwei", min=0, help="Cap of maxPriorityFeePerGas, in gwei.")
    ] = None,
    git_notes: Annotated[
        bool,
        typer.Option(
            "--git-notes/--no-git-notes",
            help="Append the audit record to the git note (refs/notes/jinbi-audit) of the applied commit.",
        ),
    ] = True,
) -> None:
    """Send the plan's transactions once each, then check that the chain matches the YAML.

    With PLAN_FILE, applies that reviewed plan only if every value it read
    is unchanged, or has the value the plan itself sets after an interrupted
    apply. A rerun after a crash resumes from the journal in .jinbi/journal/.
    The signer key comes from JINBI_PRIVATE_KEY or JINBI_KEYSTORE with
    JINBI_KEYSTORE_PASSWORD (devnet defaults to anvil's first development
    account). A plan with a court-ordered force transfer is sent only with
    --allow-force-transfer. Exit codes: 0 converged, 1 error (stale plan,
    failed or reverted transaction, not converged, declined, force transfer
    without --allow-force-transfer).
    """
    from reconciler.execution.fees import FeePolicy
    from reconciler.execution.run import ApplyOutput, ApplyRequest, run_apply

    fees = FeePolicy(
        max_fee_per_gas=None if max_fee_gwei is None else max_fee_gwei * 10**9,
        max_priority_fee_per_gas=None if max_priority_fee_gwei is None else max_priority_fee_gwei * 10**9,
    )
    request = ApplyRequest(
        env=env,
        state_dir=state_dir,
        plan_file=plan_file,
        auto_approve=auto_approve,
        gas_cap=gas_cap,
        allow_mass_change=allow_mass_change,
        allow_force_transfer=allow_force_transfer,
        simulate=not no_simulate,
        fees=fees,
        git_notes=git_notes,
    )
    with _apply_progress() as progress:
        run_apply(request, ApplyOutput(show=typer.echo, confirm=_confirm, progress=progress))


def _confirm(question: str) -> bool:
    return typer.confirm(question, default=False, err=True)


@contextmanager
def _apply_progress() -> Iterator[Callable[[Any], None]]:
    """Show a progress bar of confirmed transactions on stderr when it is a terminal; log otherwise."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from reconciler.execution.transactions import EventKind, ExecutionEvent

    console = Console(stderr=True)
    if not console.is_terminal:

        def log_event(event: ExecutionEvent) -> None:
            log.info("%s %s (nonce %s, %s)", event.kind.value, event.description, event.nonce, event.tx_hash)

        yield log_event
        return

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("sending", total=None)
        sent: set[int] = set()

        def show_event(event: ExecutionEvent) -> None:
            if event.kind is EventKind.SENT:
                sent.add(event.index)
                bar.update(task, total=len(sent))
            if event.kind in (EventKind.CONFIRMED, EventKind.FAILED):
                bar.update(task, advance=1, description=f"{event.kind.value}: {event.description}")

        yield show_event


# --- apply lock: unlock ------------------------------------------------------


@app.command("unlock")
def unlock_command(
    env: EnvOption,
    lock_dir: Annotated[
        Path,
        typer.Option("--lock-dir", help="Folder of the apply locks, one <env>.lock file per environment."),
    ] = Path(".jinbi/locks"),
) -> None:
    """Remove the apply lock of ENV, even one held by a running apply.

    Use it only when the apply that holds the lock is no longer running: a
    running apply notices that it lost the lock and stops sending. Exit codes:
    0 removed or not locked, 1 error.
    """
    from reconciler.execution.lock import force_unlock

    owner = force_unlock(env, directory=lock_dir)
    if owner is None:
        typer.echo(f"environment {env} is not locked; nothing to do")
    else:
        typer.echo(f"removed the lock of environment {env} held by {owner.describe()}")



# --- GitOps: drift, break-glass pause, audit, changed environments ------------


class DriftFormat(str, Enum):
    TEXT = "text"
    MARKDOWN = "markdown"


@app.command("drift")
def drift_command(
    env: EnvOption,
    state_dir: StateDirOption = Path("state"),
    write: Annotated[
        bool,
        typer.Option(
            "--write",
            help="Rewrite the work tree's YAML to adopt the on-chain values that changed outside the reconciler.",
        ),
    ] = False,
    output_format: Annotated[
        DriftFormat,
        typer.Option("--format", help="text: for a terminal; markdown: an issue body with every value escaped."),
    ] = DriftFormat.TEXT,
) -> int:
    """Show the on-chain values that differ from the YAML at HEAD, each changed outside the reconciler or pending.

    Changed outside: on-chain items the YAML lacks, values the last applied
    commit (from the audit notes) already wanted as HEAD does, and a paused
    token (the YAML has no pause state yet). Pending: values HEAD wants that
    no recorded apply has sent. Scheduled coupons are no drift. Exit codes:
    0 no drift, 2 drift (also after --write, until the change is committed
    and applied), 1 error.
    """
    from reconciler.gitops.drift import check_drift, write_adoption

    report, inputs = check_drift(state_dir, env)
    if output_format is DriftFormat.MARKDOWN:
        typer.echo(report.markdown(), nl=False)
    else:
        typer.echo(report.describe(), nl=False)
    if write:
        typer.echo(write_adoption(report, inputs, state_dir, env).describe(), err=output_format is DriftFormat.MARKDOWN)
    return 2 if report.has_drift else 0


ReasonOption = Annotated[
    str,
    typer.Option("--reason", help="Why, in words: recorded with the transaction in the audit trail."),
]


@app.command("pause")
def pause_command(env: EnvOption, reason: ReasonOption, state_dir: StateDirOption = Path("state")) -> None:
    """Pause every transfer of ENV's token now: one transaction, no plan, no confirmation prompt.

    Needs the signer key (JINBI_PRIVATE_KEY or JINBI_KEYSTORE) with
    PAUSER_ROLE. Records the reason, the transaction and the block in
    .jinbi/audit/ENV/ and, inside a git repository, in the notes of HEAD under
    refs/notes/jinbi-audit. `jinbi drift` reports the pause until it is
    lifted. Exit codes: 0 paused (also when it already was), 1 error.
    """
    from reconciler.execution.breakglass import break_glass

    typer.echo(break_glass(state_dir, env, pause=True, reason=reason).describe())


@app.command("unpause")
def unpause_command(env: EnvOption, reason: ReasonOption, state_dir: StateDirOption = Path("state")) -> None:
    """Lift the pause of ENV's token now, recording the reason like `jinbi pause`.

    Exit codes: 0 unpaused (also when it was not paused), 1 error.
    """
    from reconciler.execution.breakglass import break_glass

    typer.echo(break_glass(state_dir, env, pause=False, reason=reason).describe())


@app.command("audit")
def audit_command(
    env: EnvOption,
    address: Annotated[str, typer.Argument(help="The investor's address.")],
    state_dir: StateDirOption = Path("state"),
) -> None:
    """Tell which commit and transaction last wrote each on-chain item of ADDRESS in ENV.

    Items are the investor's flags, its blocked status and its allocations.
    Reads the audit records in the git notes (refs/notes/jinbi-audit) of
    HEAD's history, newest first; fetch that ref first in a fresh clone.
    Exit codes: 0 found, 1 no record concerns ADDRESS, or an error.
    """
    from eth_utils.address import is_address, to_checksum_address

    from reconciler.gitops.audit import find_address

    if not is_address(address):
        raise typer.BadParameter(f"{address} is not an Ethereum address", param_hint="ADDRESS")
    checksummed = to_checksum_address(address)
    answers = find_address(state_dir, env, checksummed)
    typer.echo(f"{checksummed} in {env}:")
    for answer in answers:
        typer.echo(f"  {answer.describe()}")


@app.command("changed-environments")
def changed_environments_command(
    base: Annotated[str, typer.Option("--base", help="Revision to compare with, such as origin/main or a commit.")],
    state_dir: StateDirOption = Path("state"),
    exclude: Annotated[
        list[str] | None, typer.Option("--exclude", help="Environment to leave out; repeat for several.")
    ] = None,
) -> None:
    """Print, as a JSON array, the environments that the changes since the merge base with BASE can affect.

    A change under STATE_DIR/ENV/ affects ENV; a change under schemas/ or
    contracts/ affects every environment. Used by the workflows to build
    their matrix. Exit codes: 0, 1 error.
    """
    import json

    from reconciler.gitops.metadata import changed_environments

    typer.echo(json.dumps(changed_environments(state_dir, base, exclude=exclude or ())))


@app.command("check")
def check_command(
    env: EnvOption,
    state_dir: StateDirOption = Path("state"),
    output_format: Annotated[
        ReportFormat,
        typer.Option("--format", help="text: for a terminal; json: one document with every finding."),
    ] = ReportFormat.TEXT,
) -> int:
    """Run the morning checklist and the alert triggers against ENV's chain at one block, read-only.

    Checks each price feed's latest round against its heartbeat, for a
    positive answer and against its min_answer and max_answer, the token's
    pause, each partition's supply against its settled allocations and the age
    of the latest custody attestation. Over the activity window (24 hours by
    default) it alerts on transfers above large_transfer_usd and on a
    compliance rejection rate (failed transfer calls to the token) above
    max_rejection_rate_percent. It reports the USDC held by CorporateActions
    and the bookings awaiting settlement. Thresholds: the `checks` section of
    the environment file.
    Exit codes: 0 no alert, 2 at least one alert, 1 error.
    """
    from reconciler.checks import run_check

    report = run_check(state_dir, env)
    typer.echo(report.to_json() if output_format is ReportFormat.JSON else report.describe(), nl=False)
    return 2 if report.alerts else 0


# --- reports: coupon statements, month-end reconciliation ---------------------

report_app = typer.Typer(
    help="Write read-only reports from the chain: coupon statements, month-end reconciliation.",
    no_args_is_help=True,
)
app.add_typer(report_app, name="report")


@report_app.command("coupons")
def report_coupons_command(
    env: EnvOption,
    cycle: Annotated[str, typer.Option("--cycle", help="Coupon cycle id, as in coupons.yaml, such as 1.")],
    state_dir: StateDirOption = Path("state"),
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Folder to write the files to; by default reports/ENV/coupons/CYCLE/."),
    ] = None,
) -> None:
    """Write each holder's coupon statement and a summary, as CSV and markdown, for one coupon cycle.

    Holders are the addresses with a balance in either partition at the last
    block at or before 23:59:59 UTC of the record date. Each gets
    floor(amount x balance / total balance) USDC base units; the remainder is
    reported. The amount is the paid one, or for an unpaid cycle the one the
    plan would pay now, marked "projected". Prints the folder and the totals.
    Exit codes: 0 written, 1 error (unknown cycle, record date not yet
    passed on chain, unreadable chain).
    """
    from reconciler.reports.coupon_files import write_statements
    from reconciler.reports.coupons import parse_cycle_id, run_coupon_statements

    cycle_id = parse_cycle_id(cycle)
    statements = run_coupon_statements(state_dir, env, cycle_id)
    folder = out if out is not None else Path("reports") / env / "coupons" / cycle_id
    typer.echo(write_statements(statements, folder).describe(), nl=False)


class MonthEndFormat(str, Enum):
    TEXT = "text"
    MARKDOWN = "markdown"
    JSON = "json"


@report_app.command("month-end")
def report_month_end_command(
    env: EnvOption,
    period: Annotated[str, typer.Option("--period", help="Calendar month as YYYY-MM, such as 2026-12.")],
    state_dir: StateDirOption = Path("state"),
    output_format: Annotated[
        MonthEndFormat,
        typer.Option("--format", help="text: for a terminal; markdown: a document to file; json: one document."),
    ] = MonthEndFormat.TEXT,
) -> None:
    """Reconcile ENV's chain at the end of a month with the YAML, read-only.

    Reads the last block of the month, or the latest block while the month
    runs (and states it). Lists each holder's balance per partition that differs
    from the YAML's allocations settled on chain, with the transfers and force
    transfers that explain it; whether the cap-table snapshot of the month (and
    of the quarter it ends) is recorded; the coupons paid so far; and the
    month's compliance rejections and force transfers. Exit codes: 0 reported,
    1 error (invalid period, a month after the chain's time, invalid YAML,
    unreadable chain).
    """
    from reconciler.reports.month_end import run_month_end
    from reconciler.reports.month_end_render import render_json, render_markdown, render_text

    report = run_month_end(state_dir, env, period)
    renderers = {
        MonthEndFormat.TEXT: render_text,
        MonthEndFormat.MARKDOWN: render_markdown,
        MonthEndFormat.JSON: render_json,
    }
    typer.echo(renderers[output_format](report), nl=False)


def _fail(message: str, hint: str | None) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    if hint:
        typer.echo(f"hint: {hint}", err=True)
    raise SystemExit(1)


def main() -> None:
    """Run the `jinbi` app and map errors to exit codes."""
    try:
        result = app(standalone_mode=False)
    except JinbiError as error:
        if _debug:
            log.exception("command failed")
        _fail(error.message, error.hint)
    except typer.Abort:
        typer.echo("", err=True)  # end the line of an unanswered prompt
        _fail("aborted", None)
    except typer.Exit as error:
        raise SystemExit(error.exit_code) from None
    except typer.TyperException as error:
        # Usage errors print with the command's usage line. They exit 1, not
        # click's usual 2, because 2 means "changes" or "drift" here.
        show = getattr(error, "show", None)
        if show:
            show()
        else:
            typer.echo(f"error: {error.format_message()}", err=True)
        raise SystemExit(1) from None
    except Exception as error:  # noqa: BLE001 - the one boundary that reports unexpected errors
        if _debug:
            raise
        _fail(f"unexpected {type(error).__name__}: {error}", "rerun as `jinbi --debug ...` (the option comes before the command) for the traceback")
    # Commands that choose their own exit code (plan --detailed-exitcode, drift) return it.
    raise SystemExit(result if isinstance(result, int) else 0)

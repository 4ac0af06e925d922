"""The `jinbi` command line.

This is the only module that turns errors into output and exit codes: a
`JinbiError` prints its message and hint on stderr and exits 1; any other
exception does the same with its type name, and a traceback only with
`--debug`. Results go to stdout, logs and errors to stderr.
"""

from __future__ import annotations

import logging
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from reconciler.errors import JinbiError

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
    typer.Option("--state-dir", help="Folder that holds one subfolder of YAML files per environment."),
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
    level = logging.DEBUG if debug or verbose > 1 else logging.INFO if verbose == 1 else logging.WARNING
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


# --- desired state: validate, sanctions import -------------------------------

EnvOption = Annotated[
    str,
    typer.Option("--env", help="Environment to use: the folder under --state-dir, such as devnet."),
]


class ValidateFormat(str, Enum):
    TEXT = "text"
    JSON = "json"


@app.command("validate")
def validate(
    env: EnvOption,
    state_dir: StateDirOption = Path("state"),
    output_format: Annotated[
        ValidateFormat,
        typer.Option("--format", help="text: one `file:line:col: error:` line per problem; json: one document."),
    ] = ValidateFormat.TEXT,
) -> None:
    """Check state/ENV/ against the schemas and the cross-file rules, offline.

    Prints every problem on stdout, sorted by file and line. Needs no chain or
    network. Exit codes: 0 valid, 1 invalid or unreadable.
    """
    from reconciler.desired import read_state
    from reconciler.desired.diagnostics import render_json, render_text

    result = read_state(state_dir, env)
    if output_format is ValidateFormat.JSON:
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
        typer.Option("--list-date", help="Date of the list as YYYY-MM-DD; by default the date in the file name."),
    ] = None,
) -> None:
    """Update the Sanctions file of ENV from a dated address list, such as an OFAC SDN extract.

    Adds listed addresses, delists entries of the same source that the list no
    longer names (keeping them with delisted_on), and rewrites the file sorted,
    in EIP-55, without its comments. Importing the same list twice changes
    nothing. Exit codes: 0 done, 1 error.
    """
    from reconciler.desired.sanctions_import import import_sanctions

    report = import_sanctions(state_dir, env, file, source=source, list_date=list_date)
    typer.echo(report.describe())


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
        _fail(f"unexpected {type(error).__name__}: {error}", "rerun with --debug for the traceback")
    # Commands that choose their own exit code (plan --detailed-exitcode, drift) return it.
    raise SystemExit(result if isinstance(result, int) else 0)

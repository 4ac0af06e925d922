"""Helpers shared by the desired-state tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reconciler import PROJECT_ROOT
from reconciler.desired import Diagnostic, ReadResult, read_state

SAMPLE_DIR = PROJECT_ROOT / "state" / "devnet"
SCHEMA_LINE = "# yaml-language-server: $schema=../../schemas/{}.schema.json\n"

# anvil's development accounts 1-9 (test mnemonic), the investors of the sample allocations.
ANVIL_ACCOUNTS = [
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
    "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65",
    "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc",
    "0x976EA74026E726554dB657fA54763abd0C3a0aa9",
    "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955",
    "0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f",
    "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720",
]


@dataclass
class StateTree:
    """A writable state folder holding one environment, `devnet`, copied from the committed sample."""

    root: Path  # the --state-dir

    @property
    def env_dir(self) -> Path:
        return self.root / "devnet"

    def write(self, name: str, body: str, *, schema: str | None = None) -> Path:
        """Write BODY to devnet/NAME, after the schema line of SCHEMA (the file stem by default)."""
        path = self.env_dir / name
        stem = schema or Path(name).stem
        path.write_text(SCHEMA_LINE.format(stem) + body, encoding="utf-8")
        return path

    def read(self) -> ReadResult:
        return read_state(self.root, "devnet")

    def errors(self) -> list[Diagnostic]:
        return self.read().diagnostics

    def file(self, name: str) -> str:
        """Return NAME as it appears in messages."""
        return str(self.env_dir / name)


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


def only(errors: list[Diagnostic]) -> Diagnostic:
    """Return the single finding, failing with all of them listed when there is not exactly one."""
    assert len(errors) == 1, "\n".join(each.render() for each in errors)
    return errors[0]

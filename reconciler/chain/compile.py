"""Compile contracts/src with the pinned solc-js from node_modules.

The output is one artifact per deployable contract in contracts/artifacts/,
written deterministically (sorted keys, fixed indentation), so a recompile of
unchanged sources gives byte-identical files. A test relies on that to prove
the committed artifacts match the sources.

Run with `python -m reconciler.chain.compile [OUTPUT_DIR]` (what `make contracts` does).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from reconciler import PROJECT_ROOT
from reconciler.chain.artifacts import ARTIFACTS_DIR
from reconciler.errors import ConfigurationError

SOURCES_DIR = PROJECT_ROOT / "contracts" / "src"
SOLCJS = PROJECT_ROOT / "node_modules" / "solc" / "solc.js"

# Compiler settings are part of the reproducibility contract: changing any of
# them changes the bytecode, so the committed artifacts must be rebuilt.
SETTINGS: dict[str, Any] = {
    "optimizer": {"enabled": True, "runs": 200},
    "evmVersion": "cancun",
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
}


def standard_json_input() -> dict[str, Any]:
    """Build solc's standard JSON input from every .sol file under contracts/src."""
    sources = {
        path.relative_to(PROJECT_ROOT).as_posix(): {"content": path.read_text(encoding="utf-8")}
        for path in sorted(SOURCES_DIR.rglob("*.sol"))
    }
    if not sources:
        raise ConfigurationError(f"no Solidity sources found under {SOURCES_DIR}")
    return {"language": "Solidity", "sources": sources, "settings": SETTINGS}


# solc-js in standard JSON mode, called through its library API: its command
# line truncates output above 64 KiB when stdout is a pipe. Imports resolve
# against the repository root, then node_modules.
_SOLC_DRIVER = """
const fs = require('fs');
const path = require('path');
const solc = require('solc');
const [inputPath, outputPath] = process.argv.slice(1);
function findImports(name) {
  for (const base of ['.', 'node_modules']) {
    const candidate = path.join(base, name);
    if (fs.existsSync(candidate)) return { contents: fs.readFileSync(candidate, 'utf8') };
  }
  return { error: 'file not found: ' + name };
}
const output = solc.compile(fs.readFileSync(inputPath, 'utf8'), { import: findImports });
fs.writeFileSync(outputPath, output);
"""


def run_solc(compiler_input: dict[str, Any]) -> dict[str, Any]:
    """Run the pinned solc-js on standard JSON input and return its parsed output."""
    if not SOLCJS.exists():
        raise ConfigurationError(f"solc not found at {SOLCJS}", hint="run `npm ci` in the repository root")
    with tempfile.TemporaryDirectory(prefix="jinbi-solc-") as scratch:
        input_path = Path(scratch) / "input.json"
        output_path = Path(scratch) / "output.json"
        input_path.write_text(json.dumps(compiler_input), encoding="utf-8")
        completed = subprocess.run(
            ["node", "-e", _SOLC_DRIVER, str(input_path), str(output_path)],
            capture_output=True,
            text=True,
            cwd=PROJECT_ROOT,
            check=False,
        )
        if completed.returncode != 0 or not output_path.exists():
            raise ConfigurationError(f"solc failed (exit {completed.returncode}): {completed.stderr.strip()}")
        output: dict[str, Any] = json.loads(output_path.read_text(encoding="utf-8"))
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        details = "\n".join(e.get("formattedMessage", e.get("message", "")) for e in errors)
        raise ConfigurationError(f"compilation failed:\n{details}")
    return output


def compiler_version() -> str:
    completed = subprocess.run(
        ["node", "-e", "process.stdout.write(require('solc').version())"],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        check=True,
    )
    return completed.stdout.strip()


def render_artifacts(output: dict[str, Any], version: str) -> dict[str, str]:
    """Map artifact file names to their exact text, for contracts under contracts/src with bytecode."""
    rendered: dict[str, str] = {}
    for source_name, contracts in sorted(output["contracts"].items()):
        if not source_name.startswith("contracts/"):
            continue
        for contract_name, compiled in sorted(contracts.items()):
            bytecode = compiled["evm"]["bytecode"]["object"]
            if not bytecode:
                continue  # interfaces and abstract contracts
            artifact = {
                "contractName": contract_name,
                "sourceName": source_name,
                "compiler": {"version": version, "settings": SETTINGS},
                "abi": compiled["abi"],
                "bytecode": "0x" + bytecode,
                "deployedBytecode": "0x" + compiled["evm"]["deployedBytecode"]["object"],
            }
            file_name = f"{contract_name}.json"
            if file_name in rendered:
                raise ConfigurationError(f"two contracts named {contract_name} under contracts/src")
            rendered[file_name] = json.dumps(artifact, indent=2, sort_keys=True) + "\n"
    return rendered


def compile_all() -> dict[str, str]:
    """Compile the sources and return the artifact files' names and text."""
    return render_artifacts(run_solc(standard_json_input()), compiler_version())


def write_artifacts(rendered: dict[str, str], directory: Path = ARTIFACTS_DIR) -> None:
    """Replace the artifacts in DIRECTORY with RENDERED, removing stale ones."""
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.json"):
        if stale.name not in rendered:
            stale.unlink()
    for file_name, text in rendered.items():
        (directory / file_name).write_text(text, encoding="utf-8")


def main() -> None:
    directory = Path(sys.argv[1]) if len(sys.argv) > 1 else ARTIFACTS_DIR
    rendered = compile_all()
    write_artifacts(rendered, directory)
    print(f"compiled {len(rendered)} contracts into {directory}")


if __name__ == "__main__":
    main()

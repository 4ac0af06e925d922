"""The committed artifacts are exactly what the pinned compiler makes of the sources."""

from __future__ import annotations

from reconciler.chain import compile as solc
from reconciler.chain.artifacts import ARTIFACTS_DIR


def test_committed_artifacts_match_recompile() -> None:
    rendered = solc.compile_all()
    committed = {path.name: path.read_bytes() for path in ARTIFACTS_DIR.glob("*.json")}

    assert sorted(committed) == sorted(rendered)
    changed = [name for name, text in rendered.items() if committed[name] != text.encode("utf-8")]
    assert changed == [], f"stale artifacts, run `make contracts`: {changed}"


def test_compiler_is_pinned_version() -> None:
    assert solc.compiler_version().startswith("0.8.30+commit.")

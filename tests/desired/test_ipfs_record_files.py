"""CapTableSnapshots and CustodyAttestations files: CIDs checked with multiformats, keys, duplicates."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from desired_support import CliResult, StateTree, only

from reconciler.model import CapTableSnapshot, CustodyAttestation

CIDV0 = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"
CIDV1_BASE32 = "bafkreibnoelefnzgwbcacyt4vh52ymxvzbjq7mmqhtcnwarfq4lzegsiqe"
CIDV1_BASE58 = "zb2rhe5P4gXftAwvA4eXQ5HJwsER2owDyS9sKjQRRVkBetsFs"
CID_HINT = (
    "write the CID that IPFS returned for the uploaded document, such as "
    '"QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG" (version 0) or "bafy…" or "bafk…" (version 1)'
)


def snapshots(*lines: str) -> str:
    return "kind: CapTableSnapshots\nsnapshots:\n" + "".join(f"  {line}\n" for line in lines)


def attestations(*lines: str) -> str:
    return "kind: CustodyAttestations\nattestations:\n" + "".join(f"  {line}\n" for line in lines)


@pytest.mark.parametrize("cid", [CIDV0, CIDV1_BASE32, CIDV1_BASE58], ids=["v0", "v1-base32", "v1-base58btc"])
def test_valid_cids_load(tree: StateTree, cid: str) -> None:
    tree.write("cap-tables.yaml", snapshots(f'"2026-Q3": {{cid: "{cid}"}}'))
    tree.write("attestations.yaml", attestations(f'monthly-custody-202609: {{scope: monthly-custody, cid: "{cid}"}}'))

    result = tree.read()

    assert result.diagnostics == []
    assert result.state.cap_table_snapshots == {"2026-Q3": CapTableSnapshot("2026-Q3", cid)}
    assert result.state.custody_attestations == {
        "monthly-custody-202609": CustodyAttestation("monthly-custody-202609", "monthly-custody", cid)
    }


def test_placeholder_cid_rejected_by_validate(tree: StateTree, run_cli: Callable[..., CliResult]) -> None:
    tree.write(
        "attestations.yaml",
        attestations('monthly-custody-202611: {scope: monthly-custody, cid: "QmNewCustodyReport123..."}'),
    )

    result = run_cli("validate", "--env", "devnet", "--state-dir", str(tree.root))

    assert result.exit_code == 1
    assert result.stderr == ""
    assert result.stdout.splitlines() == [
        f"{tree.file('attestations.yaml')}:4:57: error: custody attestation monthly-custody-202611: "
        'cid "QmNewCustodyReport123..." is not an IPFS CID (version 0 or 1)',
        f"    hint: {CID_HINT}",
        f"{tree.env_dir}: 1 error in 1 file",
    ]


@pytest.mark.parametrize(
    ("cid", "message"),
    [
        ("Qm" + "1" * 44, "is not an IPFS CID (version 0 or 1)"),  # base58 of the right length, wrong multihash
        (CIDV1_BASE32[:-1], "is not an IPFS CID (version 0 or 1)"),
        ("b", "is not an IPFS CID (version 0 or 1)"),
        ("b" + "a" * 130, "is not an IPFS CID: it has 131 characters, more than 128"),
    ],
    ids=["v0-bad-multihash", "v1-truncated", "prefix-only", "too-long"],
)
def test_invalid_cids_rejected(tree: StateTree, cid: str, message: str) -> None:
    tree.write("cap-tables.yaml", snapshots(f'"2026-Q3": {{cid: "{cid}"}}'))

    error = only(tree.errors())

    assert (error.file, error.line, error.column, error.code) == (tree.file("cap-tables.yaml"), 4, 20, "schema.format")
    assert error.message.endswith(message)
    assert error.hint == CID_HINT


@pytest.mark.parametrize(
    "period",
    [
        '"2026 Q3"',
        '"2026-Q3-' + "c" * 57 + '"',
        '""',
        '"2026-Q3\\t"',
        '"2026-Q3\\n"',
        '"2026-Q5"',
        '"2026-13"',
        "banana",
        '"2026-12-01"',
        '"Q4-2024"',
        '"0000-01"',
    ],
    ids=["space", "too-long", "empty", "tab", "line-feed", "quarter-5", "month-13", "word", "day", "quarter-first", "year-0"],
)
def test_invalid_period_rejected(tree: StateTree, period: str) -> None:
    tree.write("cap-tables.yaml", snapshots(f'{period}: {{cid: "{CIDV0}"}}'))

    error = only(tree.errors())

    assert (error.line, error.column, error.code) == (4, 3, "schema.key")
    assert error.message.startswith("cap-table snapshot ")
    assert error.hint.startswith("a period is a month as YYYY-MM, such as \"2026-12\", or a quarter as YYYY-QN")


@pytest.mark.parametrize("period", ["2026-12", "2026-Q3", "2026-Q3-corrected", "2026-Q3-v2"])
def test_valid_period_accepted(tree: StateTree, period: str) -> None:
    tree.write("cap-tables.yaml", snapshots(f'"{period}": {{cid: "{CIDV0}"}}'))

    result = tree.read()

    assert result.diagnostics == []
    assert result.state.cap_table_snapshots == {period: CapTableSnapshot(period, CIDV0)}


def test_invalid_scope_rejected(tree: StateTree) -> None:
    tree.write("attestations.yaml", attestations(f'monthly-custody-202609: {{scope: "monthly custody", cid: "{CIDV0}"}}'))

    error = only(tree.errors())

    assert (error.line, error.column, error.code) == (4, 35, "schema.pattern")
    assert error.message == 'custody attestation monthly-custody-202609: scope "monthly custody" is invalid'


def test_duplicate_period_rejected(tree: StateTree) -> None:
    tree.write("cap-tables.yaml", snapshots(f'"2026-Q3": {{cid: "{CIDV0}"}}', f'"2026-Q3": {{cid: "{CIDV1_BASE32}"}}'))

    error = only(tree.errors())

    assert (error.line, error.code) == (5, "yaml.duplicate-key")


@pytest.mark.parametrize("kind", ["snapshots", "attestations"])
def test_duplicate_cid_rejected(tree: StateTree, kind: str) -> None:
    if kind == "snapshots":
        tree.write("cap-tables.yaml", snapshots(f'"2026-Q3": {{cid: "{CIDV0}"}}', f'"2026-Q4": {{cid: "{CIDV0}"}}'))
        expected = f"cap-table snapshot 2026-Q4: cid {CIDV0} is also the CID of cap-table snapshot 2026-Q3 on line 4"
        column = 20
    else:
        tree.write(
            "attestations.yaml",
            attestations(f'a-1: {{scope: s, cid: "{CIDV0}"}}', f'a-2: {{scope: s, cid: "{CIDV0}"}}'),
        )
        expected = f"custody attestation a-2: cid {CIDV0} is also the CID of custody attestation a-1 on line 4"
        column = 24

    error = only(tree.errors())

    assert (error.line, error.column, error.code) == (5, column, "record.duplicate-cid")
    assert error.message == expected
    assert error.hint == "each record names its own document, so check that this CID is the one of this record's upload"


CIDV0_AS_V1 = "bafybeie5nqv6kd3qnfjupgvz34woh3oksc3iau6abmyajn7qvtf6d2ho34"  # CIDV0's multihash as CIDv1, base32
CIDV0_AS_BASE58_V1 = "zdj7Wg2Qkk4mYgAkVU1kppfQ2sMGz5zPwERVpeWmxCQLDxVoC"  # the same as CIDv1 in base58btc
IDENTITY_CID = "bafkqac3imvwgy3zao5xxe3de"  # "hello world" inline, with the identity hash


@pytest.mark.parametrize("spelling", [CIDV0_AS_V1, CIDV0_AS_BASE58_V1], ids=["v1-base32", "v1-base58btc"])
def test_cid_in_other_base_is_duplicate(tree: StateTree, spelling: str) -> None:
    tree.write("cap-tables.yaml", snapshots(f'"2026-Q3": {{cid: "{CIDV0}"}}', f'"2026-Q4": {{cid: "{spelling}"}}'))

    error = only(tree.errors())

    assert (error.line, error.code) == (5, "record.duplicate-cid")
    assert error.message == (
        f"cap-table snapshot 2026-Q4: cid {spelling} names the same content as cid {CIDV0} of cap-table snapshot "
        "2026-Q3 on line 4 (the same hash, written in another CID version or base)"
    )


def test_identity_cid_rejected(tree: StateTree) -> None:
    tree.write("cap-tables.yaml", snapshots(f'"2026-Q3": {{cid: "{IDENTITY_CID}"}}'))

    error = only(tree.errors())

    assert (error.line, error.code) == (4, "schema.format")
    assert error.message == (
        f'cap-table snapshot 2026-Q3: cid "{IDENTITY_CID}" is an identity CID: it carries its content inline '
        "instead of a hash of a document, so it proves nothing"
    )
    assert error.hint == CID_HINT

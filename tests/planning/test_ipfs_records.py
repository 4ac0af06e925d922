"""Cap-table snapshots and custody attestations against a real anvil: record, edit, drift, import.

Each test writes a state folder with the committed devnet environment and the
two record files, so the other kinds are unmanaged and plan nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from apply_support import SIGNER, send_plan

from reconciler import PROJECT_ROOT
from reconciler.chain.observe import observe
from reconciler.desired import DesiredState, load_state
from reconciler.errors import PlanError
from reconciler.model import CapTableSnapshot, CustodyAttestation, State
from reconciler.planning.plan import Plan, PlanOptions, build_plan
from reconciler.planning.records import Verb, show_time
from reconciler.planning.render_text import render_text
from reconciler.planning.run import PlanRequest, make_plan
from reconciler.planning.simulate import NOTHING_TO_SIMULATE

JINBI = PROJECT_ROOT / ".venv" / "bin" / "jinbi"
SCHEMA_LINE = "# yaml-language-server: $schema=../../schemas/{}.schema.json\n"
CIDV0 = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"
CIDV1 = "bafkreif4mkioznsaczvziaquji5vqyrxndvmflpwjxe3wjzb5cel2z6gsu"
CIDV1_OTHER = "bafkreibnoelefnzgwbcacyt4vh52ymxvzbjq7mmqhtcnwarfq4lzegsiqe"
# A CIDv1 of a SHA-512 digest in base32, 110 characters: longer than the CIDs in common use.
CIDV1_SHA512 = (
    "bafkrgqaaivaggq3mj4uhpao2tsov6s7ocjvuhhexjgskl7f7imqa6sqfjebo7em3vlm73ezkyakw7ze3rqq6wcvsaouzhdtbf7dscbn3loxlg"
)
# The CIDs that `record_outside` records.
OUTSIDE_SNAPSHOT_CID = "QmSWc9JeZndVuJjSNSpxHcwiWrKLo4c5MYY1i2n4p1UWju"
OUTSIDE_ATTESTATION_CID = "bafkreidgsibp2y6zrb57xswgyhxxtrlnsu7wng3k7sa2ejef5wqpdxd3gu"


def write_state(root: Path, snapshots: dict[str, str], attestations: dict[str, tuple[str, str]]) -> Path:
    """Write state/devnet with the committed environment, SNAPSHOTS (period -> CID) and ATTESTATIONS (label -> scope, CID)."""
    folder = root / "state" / "devnet"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROJECT_ROOT / "state" / "devnet" / "environment.yaml", folder / "environment.yaml")
    lines = [f'  "{period}": {{cid: "{cid}"}}\n' for period, cid in snapshots.items()]
    (folder / "cap-tables.yaml").write_text(
        SCHEMA_LINE.format("cap-tables") + "kind: CapTableSnapshots\nsnapshots:" + (" {}\n" if not lines else "\n") + "".join(lines),
        encoding="utf-8",
    )
    lines = [f'  {label}: {{scope: {scope}, cid: "{cid}"}}\n' for label, (scope, cid) in attestations.items()]
    (folder / "attestations.yaml").write_text(
        SCHEMA_LINE.format("attestations")
        + "kind: CustodyAttestations\nattestations:"
        + (" {}\n" if not lines else "\n")
        + "".join(lines),
        encoding="utf-8",
    )
    return root / "state"


def plan_of(state_dir: Path, chain: Any) -> tuple[DesiredState, Plan]:
    desired = load_state(state_dir, "devnet")
    return desired, build_plan(desired, observe(chain.w3, desired.environment), PlanOptions(signer=SIGNER))


def record_outside(chain: Any) -> None:
    """Record one snapshot and one attestation straight on chain, as someone outside the reconciler would."""
    for call in (
        chain.contracts["transfer_agent_bridge"].functions.recordSnapshots([("2026-Q2", OUTSIDE_SNAPSHOT_CID)]),
        chain.contracts["custody_attestations"].functions.recordAttestations(
            [("monthly-custody", "mc-202608", OUTSIDE_ATTESTATION_CID)]
        ),
    ):
        assert chain.w3.eth.wait_for_transaction_receipt(call.transact({"from": SIGNER}))["status"] == 1


def jinbi(chain: Any, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if key != "JINBI_PRIVATE_KEY"}
    environment["JINBI_RPC_URL"] = chain.url
    return subprocess.run([str(JINBI), *args], env=environment, capture_output=True, text=True, timeout=120, check=False)


# --- add and no-op -----------------------------------------------------------


def test_new_records_batched_then_converged(chain: Any, tmp_path: Path) -> None:
    state_dir = write_state(
        tmp_path,
        {"2026-Q3": CIDV0, "2026-Q2": CIDV1},
        {"monthly-custody-202609": ("monthly-custody", CIDV1_OTHER), "vault-202609": ("vault", CIDV0)},
    )
    _, plan = plan_of(state_dir, chain)

    assert plan.verb_counts() == {Verb.RECORD_SNAPSHOT: 2, Verb.RECORD_ATTESTATION: 2}
    assert [(tx.function.qualified_name, [action.key for action in tx.actions]) for tx in plan.transactions] == [
        ("TransferAgentBridge.recordSnapshots", ["2026-Q2", "2026-Q3"]),
        ("CustodyAttestations.recordAttestations", ["monthly-custody-202609", "vault-202609"]),
    ]
    assert plan.transactions[0].arguments == ([("2026-Q2", CIDV1), ("2026-Q3", CIDV0)],)
    assert plan.actions[1].description == f"would record the cap table of period 2026-Q3 as CID {CIDV0}"
    assert plan.actions[2].description == f"would record the monthly-custody attestation as CID {CIDV1_OTHER}"
    assert str(plan.actions[1].position) == f"{state_dir}/devnet/cap-tables.yaml:4:3"
    assert plan.summary() == (
        "Plan: 2 cap-table snapshots to record, 2 custody attestations to record in 2 transactions."
    )

    used = send_plan(chain, plan)
    assert all(gas <= tx.gas_estimate for gas, tx in zip(used, plan.transactions, strict=True))

    observed = observe(chain.w3, load_state(state_dir, "devnet").environment).state
    recorded_at = observed.cap_table_snapshots["2026-Q3"].recorded_at
    assert recorded_at
    assert observed.cap_table_snapshots["2026-Q3"] == CapTableSnapshot("2026-Q3", CIDV0, recorded_at)
    assert observed.custody_attestations["vault-202609"] == CustodyAttestation(
        "vault-202609", "vault", CIDV0, observed.custody_attestations["vault-202609"].attested_at
    )

    _, again = plan_of(state_dir, chain)
    assert again.transactions == ()
    assert again.warnings == ()
    assert again.summary() == "No changes: the chain matches the YAML."


def test_apply_cli_records_and_converges(chain: Any, tmp_path: Path) -> None:
    state_dir = write_state(tmp_path, {"2026-Q3": CIDV0}, {"monthly-custody-202609": ("monthly-custody", CIDV1)})

    applied = jinbi(chain, "apply", "--env", "devnet", "--state-dir", str(state_dir), "--auto-approve", "--no-git-notes")

    assert applied.returncode == 0, applied.stderr
    assert "Plan: 1 cap-table snapshot to record, 1 custody attestation to record in 2 transactions." in applied.stdout
    _, again = plan_of(state_dir, chain)
    assert again.summary() == "No changes: the chain matches the YAML."


def test_gas_model_bounds_longest_strings(chain: Any, tmp_path: Path) -> None:
    # Keys of 64 characters, the schema's maximum, and a CID that takes as many storage slots as
    # the longest the schema allows (128 characters): the most gas per item, within 500.
    snapshots = {f"{number:02d}".ljust(64, "P"): CIDV1_SHA512 for number in range(20)}
    attestations = {f"{number:02d}".ljust(64, "L"): (f"{number:02d}".ljust(64, "S"), CIDV1_SHA512) for number in range(20)}
    # The files reject repeated CIDs, so the plan is built from the model directly.
    desired = load_state(write_state(tmp_path, {}, {}), "devnet")
    model = State(
        cap_table_snapshots={period: CapTableSnapshot(period, cid) for period, cid in snapshots.items()},
        custody_attestations={
            label: CustodyAttestation(label, scope, cid) for label, (scope, cid) in attestations.items()
        },
    )
    desired = DesiredState(desired.environment, model, desired.positions, desired.files)
    plan = build_plan(desired, observe(chain.w3, desired.environment), PlanOptions(signer=SIGNER))

    used = send_plan(chain, plan)

    assert [len(tx.actions) for tx in plan.transactions] == [20, 20]
    for gas, transaction in zip(used, plan.transactions, strict=True):
        assert gas <= transaction.gas_estimate <= gas * 1.05, transaction.function.qualified_name


# --- immutable once recorded -------------------------------------------------


@pytest.mark.parametrize(
    ("snapshot_cid", "attestation", "expected", "hint"),
    [
        (
            CIDV1_OTHER,
            ("monthly-custody", CIDV1),
            "cap-tables.yaml:4:20: cap-table snapshot 2026-Q3 was recorded on chain on {day} with cid "
            f"{CIDV0}, but the YAML has {CIDV1_OTHER}; a recorded cap-table snapshot cannot be edited",
            f'restore cid: "{CIDV0}", and record the correction under a new period, such as 2026-Q3-corrected',
        ),
        (
            CIDV0,
            ("monthly-custody", CIDV1_OTHER),
            "attestations.yaml:4:57: custody attestation monthly-custody-202609 was recorded on chain on {day} "
            f"with cid {CIDV1}, but the YAML has {CIDV1_OTHER}; a recorded custody attestation cannot be edited",
            f'restore cid: "{CIDV1}", and record the correction under a new label, such as '
            "monthly-custody-202609-corrected",
        ),
        (
            CIDV0,
            ("vault", CIDV1),
            "attestations.yaml:4:35: custody attestation monthly-custody-202609 was recorded on chain on {day} "
            "with scope monthly-custody, but the YAML has vault; a recorded custody attestation cannot be edited",
            'restore scope: "monthly-custody", and record the correction under a new label, such as '
            "monthly-custody-202609-corrected",
        ),
    ],
    ids=["snapshot-cid", "attestation-cid", "attestation-scope"],
)
def test_edit_of_recorded_rejected(
    chain: Any,
    tmp_path: Path,
    snapshot_cid: str,
    attestation: tuple[str, str],
    expected: str,
    hint: str,
) -> None:
    state_dir = write_state(tmp_path, {"2026-Q3": CIDV0}, {"monthly-custody-202609": ("monthly-custody", CIDV1)})
    send_plan(chain, plan_of(state_dir, chain)[1])
    write_state(tmp_path, {"2026-Q3": snapshot_cid}, {"monthly-custody-202609": attestation})

    with pytest.raises(PlanError) as raised:
        plan_of(state_dir, chain)

    observed = observe(chain.w3, load_state(state_dir, "devnet").environment).state
    if expected.startswith("cap-tables"):
        day = show_time(observed.cap_table_snapshots["2026-Q3"].recorded_at)
    else:
        day = show_time(observed.custody_attestations["monthly-custody-202609"].attested_at)
    assert raised.value.message == f"{state_dir}/devnet/" + expected.format(day=day)
    assert raised.value.hint == hint


def test_edit_of_recorded_sends_nothing(chain: Any, tmp_path: Path) -> None:
    state_dir = write_state(tmp_path, {"2026-Q3": CIDV0}, {})
    send_plan(chain, plan_of(state_dir, chain)[1])
    write_state(tmp_path, {"2026-Q3": CIDV1, "2026-Q4": CIDV0}, {})
    block = chain.w3.eth.block_number

    applied = jinbi(chain, "apply", "--env", "devnet", "--state-dir", str(state_dir), "--auto-approve", "--no-git-notes")

    assert applied.returncode == 1
    assert applied.stdout == ""
    assert applied.stderr.splitlines()[0].startswith(
        f"error: {state_dir}/devnet/cap-tables.yaml:4:20: cap-table snapshot 2026-Q3 was recorded on chain on "
    )
    assert "Traceback" not in applied.stderr
    assert chain.w3.eth.block_number == block


# --- drift and import --------------------------------------------------------


def test_records_outside_are_drift_warnings(chain: Any, tmp_path: Path) -> None:
    record_outside(chain)
    state_dir = write_state(tmp_path, {}, {})

    _, plan = plan_of(state_dir, chain)

    assert plan.transactions == ()
    assert [(warning.code, warning.kind.value if warning.kind else None, warning.key) for warning in plan.warnings] == [
        ("drift", "cap_table_snapshots", "2026-Q2"),
        ("drift", "custody_attestations", "mc-202608"),
    ]
    assert plan.warnings[0].message.startswith(f"cap-table snapshot 2026-Q2 (CID {OUTSIDE_SNAPSHOT_CID}) was recorded ")
    assert plan.warnings[0].message.endswith(
        f"on chain but not in {state_dir}/devnet/cap-tables.yaml: the plan leaves it as it is"
    )
    assert plan.warnings[1].message.startswith(
        f"custody attestation mc-202608 (scope monthly-custody, CID {OUTSIDE_ATTESTATION_CID}) was recorded "
    )


def test_jinbi_drift_reports_records_outside(chain: Any, tmp_path: Path) -> None:
    # The state folder is no git repository, so drift compares the chain with the work tree.
    state_dir = write_state(tmp_path, {"2026-Q3": CIDV0}, {})
    send_plan(chain, plan_of(state_dir, chain)[1])
    record_outside(chain)

    drifted = jinbi(chain, "drift", "--env", "devnet", "--state-dir", str(state_dir))

    assert drifted.returncode == 2, drifted.stderr
    lines = drifted.stdout.splitlines()
    assert lines[2:5] == [
        "changed outside the reconciler (2):",
        "  cap_table_snapshots 2026-Q2: YAML absent, chain present",
        "  custody_attestations mc-202608: YAML absent, chain present",
    ]

    adopted = jinbi(chain, "drift", "--env", "devnet", "--state-dir", str(state_dir), "--write")
    assert adopted.returncode == 2, adopted.stderr
    desired = load_state(state_dir, "devnet")
    assert desired.state.cap_table_snapshots == {
        "2026-Q2": CapTableSnapshot("2026-Q2", OUTSIDE_SNAPSHOT_CID),
        "2026-Q3": CapTableSnapshot("2026-Q3", CIDV0),
    }
    assert desired.state.custody_attestations == {
        "mc-202608": CustodyAttestation("mc-202608", "monthly-custody", OUTSIDE_ATTESTATION_CID)
    }


def test_import_round_trip(chain: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = write_state(tmp_path / "source", {"2026-Q3": CIDV0}, {"monthly-custody-202609": ("monthly-custody", CIDV1)})
    send_plan(chain, plan_of(source, chain)[1])
    record_outside(chain)
    target = tmp_path / "target" / "state"
    (target / "devnet").mkdir(parents=True)
    shutil.copy(source / "devnet" / "environment.yaml", target / "devnet" / "environment.yaml")

    imported = jinbi(chain, "import", "--env", "devnet", "--state-dir", str(target))

    assert imported.returncode == 0, imported.stderr
    assert "2 cap-table snapshots, 2 custody attestations" in imported.stdout
    cap_tables = (target / "devnet" / "cap-tables.yaml").read_text(encoding="utf-8").splitlines()
    assert cap_tables[0] == SCHEMA_LINE.format("cap-tables").rstrip("\n")
    assert cap_tables[1].startswith("# Written by `jinbi import` from chain 31337 at block ")
    assert cap_tables[2:] == [
        "kind: CapTableSnapshots",
        "snapshots:",
        f'  "2026-Q2": {{cid: "{OUTSIDE_SNAPSHOT_CID}"}}',
        f'  "2026-Q3": {{cid: "{CIDV0}"}}',
    ]
    assert (target / "devnet" / "attestations.yaml").read_text(encoding="utf-8").splitlines()[2:] == [
        "kind: CustodyAttestations",
        "attestations:",
        f'  mc-202608: {{scope: monthly-custody, cid: "{OUTSIDE_ATTESTATION_CID}"}}',
        f'  monthly-custody-202609: {{scope: monthly-custody, cid: "{CIDV1}"}}',
    ]

    monkeypatch.setenv("JINBI_RPC_URL", chain.url)
    plan = make_plan(PlanRequest(env="devnet", state_dir=target, signer=SIGNER))
    assert plan.transactions == ()
    assert plan.warnings == ()
    assert plan.simulation == NOTHING_TO_SIMULATE


def test_chain_control_characters_escaped(chain: Any, tmp_path: Path) -> None:
    hostile = "Qm\x1b[2K\rNo changes: the chain matches the YAML.\x9b2J\x00"
    call = chain.contracts["transfer_agent_bridge"].functions.recordSnapshots([("2026-Q2", hostile)])
    assert chain.w3.eth.wait_for_transaction_receipt(call.transact({"from": SIGNER}))["status"] == 1
    state_dir = write_state(tmp_path, {}, {})

    shown = render_text(plan_of(state_dir, chain)[1]).plain
    drifted = jinbi(chain, "drift", "--env", "devnet", "--state-dir", str(state_dir))

    assert "(CID Qm\\x1b[2K\\x0dNo changes: the chain matches the YAML.\\x9b2J\\x00) was recorded" in shown
    assert drifted.returncode == 2, drifted.stderr
    assert "  cap_table_snapshots 2026-Q2: YAML absent, chain present" in drifted.stdout
    for text in (shown, drifted.stdout, drifted.stderr):
        assert not any(ord(char) < 0x20 and char != "\n" or 0x7F <= ord(char) <= 0x9F for char in text), text


def test_drift_flags_recorded_snapshot_edit(chain: Any, tmp_path: Path) -> None:
    state_dir = write_state(tmp_path, {"2026-Q3": CIDV0}, {})
    send_plan(chain, plan_of(state_dir, chain)[1])
    write_state(tmp_path, {"2026-Q3": CIDV1}, {})

    drifted = jinbi(chain, "drift", "--env", "devnet", "--state-dir", str(state_dir))

    assert drifted.returncode == 2, drifted.stderr
    lines = drifted.stdout.splitlines()
    assert lines[2:4] == [
        "edited in the YAML after it became final on chain, which plan and apply reject (1):",
        f"  cap_table_snapshots 2026-Q3 cid: YAML {CIDV1}, chain {CIDV0} ({state_dir}/devnet/cap-tables.yaml:4); "
        f"restore cid: {CIDV0} in the YAML, and write any correction under a new id",
    ]
    assert lines[-1] == (
        "Drift: 0 changed outside the reconciler, 0 pending in an unapplied commit, 1 edit of final records. "
        "Restore the final records' values in the YAML: plan and apply reject these edits."
    )
    assert "pending" not in "\n".join(lines[2:4])


def record_rejected(chain: Any) -> None:
    """Record a snapshot straight on chain with a period and CID that the YAML rules reject."""
    call = chain.contracts["transfer_agent_bridge"].functions.recordSnapshots([("2027 Q1", "QmNewCustodyReport123")])
    assert chain.w3.eth.wait_for_transaction_receipt(call.transact({"from": SIGNER}))["status"] == 1


def test_import_leaves_out_rejected_record(chain: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    record_outside(chain)
    record_rejected(chain)
    target = write_state(tmp_path, {}, {})

    imported = jinbi(chain, "import", "--env", "devnet", "--state-dir", str(target))

    assert imported.returncode == 0, imported.stderr
    left_out = [line for line in imported.stdout.splitlines() if line.startswith("left out of")]
    assert len(left_out) == 1
    assert "token not paused; 1 final record left out (below)" in imported.stdout
    assert left_out[0].startswith("left out of cap-tables.yaml: 2027 Q1: ")
    assert "QmNewCustodyReport123" in left_out[0]
    assert left_out[0].endswith("so it stays there and plan shows it as drift. Record any correction under a new period")
    desired = load_state(target, "devnet")
    assert desired.state.cap_table_snapshots == {"2026-Q2": CapTableSnapshot("2026-Q2", OUTSIDE_SNAPSHOT_CID)}
    monkeypatch.setenv("JINBI_RPC_URL", chain.url)
    plan = make_plan(PlanRequest(env="devnet", state_dir=target, signer=SIGNER))
    assert plan.transactions == ()
    assert [(warning.code, warning.key) for warning in plan.warnings] == [("drift", "2027 Q1")]


def test_drift_write_leaves_out_rejected_record(chain: Any, tmp_path: Path) -> None:
    state_dir = write_state(tmp_path, {}, {})
    record_outside(chain)
    record_rejected(chain)

    adopted = jinbi(chain, "drift", "--env", "devnet", "--state-dir", str(state_dir), "--write")

    assert adopted.returncode == 2, adopted.stderr
    assert "not adopted: left out of cap-tables.yaml: 2027 Q1: " in adopted.stdout
    assert "adopted 2 on-chain values in the YAML" in adopted.stdout
    desired = load_state(state_dir, "devnet")
    assert set(desired.state.cap_table_snapshots) == {"2026-Q2"}
    assert set(desired.state.custody_attestations) == {"mc-202608"}

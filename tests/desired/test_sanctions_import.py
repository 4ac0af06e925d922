"""`jinbi sanctions import`: dated address lists merged into the Sanctions file."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from desired_support import SAMPLE_DIR, CliResult, StateTree

from reconciler.desired.sanctions_import import import_sanctions, read_address_list
from reconciler.desired.values import format_date, parse_address
from reconciler.errors import DesiredStateError, ValidationError

A = "0x0000000000000000000000000000000000000aBc"
B = "0x00000000219ab540356cBB839Cbe05303d7705Fa"
C = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


@pytest.fixture
def empty_env(tmp_path: Path) -> StateTree:
    """A state folder whose devnet environment has no files yet."""
    (tmp_path / "state" / "devnet").mkdir(parents=True)
    return StateTree(tmp_path / "state")


def write_list(folder: Path, name: str, lines: list[str]) -> Path:
    path = folder / name
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


# --- merging -----------------------------------------------------------------


def test_first_import_adds_every_address(empty_env: StateTree, tmp_path: Path) -> None:
    listed = write_list(tmp_path, "sdn-2024-01-12.txt", [A.lower(), B])

    report = import_sanctions(empty_env.root, "devnet", listed)

    assert (report.added, report.delisted, report.relisted, report.unchanged) == ([A, B], [], [], 0)
    assert report.written
    assert (empty_env.env_dir / "sanctions.yaml").read_text(encoding="utf-8") == (
        "# yaml-language-server: $schema=../../schemas/sanctions.schema.json\n"
        "kind: Sanctions\n"
        "blocked:\n"
        f'  "{A}": {{source: OFAC-SDN, listed_on: "2024-01-12"}}\n'
        f'  "{B}": {{source: OFAC-SDN, listed_on: "2024-01-12"}}\n'
    )


def test_same_list_twice_changes_nothing(empty_env: StateTree, tmp_path: Path) -> None:
    listed = write_list(tmp_path, "sdn-2024-01-12.txt", [A, B])
    import_sanctions(empty_env.root, "devnet", listed)
    before = (empty_env.env_dir / "sanctions.yaml").read_bytes()

    report = import_sanctions(empty_env.root, "devnet", listed)

    assert (report.added, report.delisted, report.relisted, report.unchanged) == ([], [], [], 2)
    assert not report.written
    assert (empty_env.env_dir / "sanctions.yaml").read_bytes() == before


def test_missing_address_delisted_and_kept(empty_env: StateTree, tmp_path: Path) -> None:
    import_sanctions(empty_env.root, "devnet", write_list(tmp_path, "sdn-2024-01-12.txt", [A, B]))

    report = import_sanctions(empty_env.root, "devnet", write_list(tmp_path, "sdn-2024-02-21.txt", [A]))

    assert (report.added, report.delisted, report.unchanged) == ([], [B], 1)
    entry = empty_env.read().state.sanctions[B]
    assert format_date(entry.listed_on) == "2024-01-12"
    assert entry.delisted_on is not None
    assert format_date(entry.delisted_on) == "2024-02-21"


def test_delisted_address_relisted(empty_env: StateTree, tmp_path: Path) -> None:
    import_sanctions(empty_env.root, "devnet", write_list(tmp_path, "sdn-2024-01-12.txt", [A, B]))
    import_sanctions(empty_env.root, "devnet", write_list(tmp_path, "sdn-2024-02-21.txt", [A]))

    report = import_sanctions(empty_env.root, "devnet", write_list(tmp_path, "sdn-2024-03-28.txt", [A, B]))

    assert (report.added, report.relisted, report.delisted) == ([], [B], [])
    entry = empty_env.read().state.sanctions[B]
    assert (format_date(entry.listed_on), entry.delisted_on) == ("2024-03-28", None)


def test_other_sources_untouched(tree: StateTree, tmp_path: Path) -> None:
    # The sample contains EU-CFSP entries, which an OFAC-SDN list never delists.
    before = tree.read().state.sanctions
    eu = sorted(address for address, entry in before.items() if entry.source == "EU-CFSP")
    ofac_active = sorted(
        (address for address, entry in before.items() if entry.source == "OFAC-SDN" and entry.blocked), key=str.lower
    )

    report = import_sanctions(tree.root, "devnet", write_list(tmp_path, "sdn-2025-11-01.txt", [A]))

    after = tree.read().state.sanctions
    assert report.delisted == ofac_active
    assert report.added == [A]
    assert {address: after[address] for address in eu} == {address: before[address] for address in eu}
    assert tree.errors() == []


def test_older_list_rejected(empty_env: StateTree, tmp_path: Path) -> None:
    import_sanctions(empty_env.root, "devnet", write_list(tmp_path, "sdn-2024-02-21.txt", [A]))
    older = write_list(tmp_path, "sdn-2024-01-12.txt", [A, B])

    with pytest.raises(ValidationError) as error:
        import_sanctions(empty_env.root, "devnet", older)

    assert error.value.message == (
        f"list {older} is dated 2024-01-12, before the newest OFAC-SDN change in "
        f"{empty_env.env_dir / 'sanctions.yaml'} (2024-02-21)"
    )
    assert error.value.hint == "import lists in date order: an older list would delist addresses listed since"


def test_invalid_sanctions_file_not_rewritten(tree: StateTree, tmp_path: Path) -> None:
    path = tree.env_dir / "sanctions.yaml"
    broken = path.read_text(encoding="utf-8").replace('listed_on: "2024-11-19"', 'listed_on: "2024-11-31"')
    path.write_text(broken, encoding="utf-8")

    with pytest.raises(DesiredStateError) as error:
        import_sanctions(tree.root, "devnet", write_list(tmp_path, "sdn-2025-11-01.txt", [A]))

    assert error.value.message == (
        f'{path}:6:79: sanctions entry 0x417568b76BB9809aBa037e3fdfB5BF38CC5561A3: listed_on "2024-11-31" '
        "is not a valid date: day is out of range for month"
    )
    assert path.read_text(encoding="utf-8") == broken


# --- reading lists -----------------------------------------------------------


def test_list_skips_blank_lines_and_comments(tmp_path: Path) -> None:
    path = write_list(tmp_path, "sdn-2024-01-12.txt", ["# OFAC SDN, ETH", "", f"  {A}  ", B])

    address_list = read_address_list(path)

    assert address_list.lines == {A: 3, B: 4}
    assert format_date(address_list.list_date) == "2024-01-12"


def test_json_list(tmp_path: Path) -> None:
    path = tmp_path / "sdn-2024-09-27.json"
    path.write_text(json.dumps([A.lower(), B]), encoding="utf-8")

    assert read_address_list(path).lines == {A: 1, B: 2}


@pytest.mark.parametrize(
    ("lines", "message", "hint"),
    [
        pytest.param(
            [A, "0x1234"],
            "{file}:2: '0x1234' is not an Ethereum address",
            "write 0x followed by 40 hexadecimal digits, in quotes",
            id="short-address",
        ),
        pytest.param(
            [C[:-1] + "9"],
            f"{{file}}:1: '{C[:-1]}9' has an invalid EIP-55 checksum "
            "(its mixed upper and lower case letters do not match)",
            "check the address against its source, because a mistyped character breaks the checksum; "
            "an address written in all lowercase is accepted and normalised",
            id="wrong-checksum",
        ),
        pytest.param(
            [A, B, A.lower()],
            f"{{file}}:3: address {A.lower()} is already on line 1 of the list",
            "a list names each address once; check the list's source before importing it",
            id="two-spellings",
        ),
    ],
)
def test_invalid_list_rejected(tmp_path: Path, lines: list[str], message: str, hint: str) -> None:
    path = write_list(tmp_path, "sdn-2024-01-12.txt", lines)

    with pytest.raises(ValidationError) as error:
        read_address_list(path)

    assert error.value.message == message.format(file=path)
    assert error.value.hint == hint


def test_list_date_needed(tmp_path: Path) -> None:
    path = write_list(tmp_path, "sdn-latest.txt", [A])

    with pytest.raises(ValidationError) as error:
        read_address_list(path)

    assert error.value.message == f"cannot tell the date of list {path}"
    assert read_address_list(path, "2024-05-02").list_date == 1_714_608_000


# --- the command -------------------------------------------------------------


def test_command_reports_changes(empty_env: StateTree, tmp_path: Path, run_cli: Callable[..., CliResult]) -> None:
    run_cli(
        "sanctions",
        "import",
        str(write_list(tmp_path, "sdn-2024-01-12.txt", [A, B])),
        "--env",
        "devnet",
        "--state-dir",
        str(empty_env.root),
    )

    result = run_cli(
        "sanctions",
        "import",
        str(write_list(tmp_path, "sdn-2024-02-21.txt", [A, C])),
        "--env",
        "devnet",
        "--state-dir",
        str(empty_env.root),
    )

    assert result.exit_code == 0
    assert result.stdout.split("\n") == [
        f"+ {C} added (listed on 2024-02-21)",
        f"- {B} delisted (delisted on 2024-02-21)",
        "OFAC-SDN list of 2024-02-21: 1 added, 0 relisted, 1 delisted, 1 unchanged",
        f"wrote {empty_env.env_dir / 'sanctions.yaml'}",
        "",
    ]
    assert result.stderr == ""


def test_command_error_exit_1(empty_env: StateTree, tmp_path: Path, run_cli: Callable[..., CliResult]) -> None:
    result = run_cli(
        "sanctions",
        "import",
        str(tmp_path / "missing-2024-01-12.txt"),
        "--env",
        "devnet",
        "--state-dir",
        str(empty_env.root),
    )

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"error: list {tmp_path / 'missing-2024-01-12.txt'} not found\nhint: check the path of the list file\n"
    )


# --- the real OFAC snapshots -------------------------------------------------


def ofac_snapshots(shared_data: Path) -> list[Path]:
    return sorted((shared_data / "ofac-eth").glob("sanctioned-eth-*.*"))


def test_real_snapshots_import_cleanly(shared_data: Path, tmp_path: Path) -> None:
    snapshots = ofac_snapshots(shared_data)
    assert len(snapshots) >= 2

    for snapshot in snapshots:
        env = StateTree(tmp_path / snapshot.name)
        env.env_dir.mkdir(parents=True)
        raw = [line.strip() for line in snapshot.read_text(encoding="utf-8").splitlines() if line.strip()]
        if snapshot.suffix == ".json":
            raw = json.loads(snapshot.read_text(encoding="utf-8"))

        report = import_sanctions(env.root, "devnet", snapshot)

        entries = (env.env_dir / "sanctions.yaml").read_text(encoding="utf-8").split("\n")[3:-1]
        written = [line.split('"')[1] for line in entries]
        assert len(report.added) == len(raw) == len(written), snapshot.name
        assert sorted(written, key=str.lower) == written
        assert set(written) == {parse_address(address) for address in raw}
        assert all(address == parse_address(address.lower()) for address in written)


def test_real_update_one_delisting(shared_data: Path, empty_env: StateTree) -> None:
    folder = shared_data / "ofac-eth"
    import_sanctions(empty_env.root, "devnet", folder / "sanctioned-eth-2023-10-04.txt")

    report = import_sanctions(empty_env.root, "devnet", folder / "sanctioned-eth-2024-01-12.txt")

    assert report.delisted == ["0x6aCDFBA02D390b97Ac2b2d42A63E85293BCc160e"]
    assert (report.added, report.relisted, report.unchanged) == ([], [], 146)
    # The written file validates: the only finding is the environment file this test has no need for.
    assert [each.code for each in empty_env.errors()] == ["environment.missing"]


def test_real_json_and_text_lists_agree(shared_data: Path, tmp_path: Path) -> None:
    folder = shared_data / "ofac-eth"
    texts = []
    for name in ("sanctioned-eth-2024-09-27.txt", "sanctioned-eth-2024-09-27.json"):
        env = StateTree(tmp_path / name)
        env.env_dir.mkdir(parents=True)
        import_sanctions(env.root, "devnet", folder / name)
        texts.append((env.env_dir / "sanctions.yaml").read_text(encoding="utf-8"))

    assert texts[0] == texts[1]


def test_json_list_must_be_array(tmp_path: Path) -> None:
    path = tmp_path / "sdn-2024-09-27.json"
    path.write_text(json.dumps({"addresses": [A]}), encoding="utf-8")

    with pytest.raises(ValidationError) as error:
        read_address_list(path)

    assert error.value.message == f"{path}: JSON list is not an array of address strings"
    assert error.value.hint == 'write an array such as ["0x…", "0x…"]'


def test_invalid_source_rejected(empty_env: StateTree, tmp_path: Path) -> None:
    listed = write_list(tmp_path, "sdn-2024-01-12.txt", [A])

    with pytest.raises(ValidationError) as error:
        import_sanctions(empty_env.root, "devnet", listed, source="OFAC SDN")

    assert error.value.message == "invalid source 'OFAC SDN'"
    assert error.value.hint == "a source is 1 to 64 letters, digits, '.', '_', '/' or '-', such as OFAC-SDN"
    assert not (empty_env.env_dir / "sanctions.yaml").exists()


# --- damaged lists: empty, truncated, mis-dated ------------------------------


@pytest.fixture
def policy_env(empty_env: StateTree) -> StateTree:
    """A devnet environment with only the sample environment file, whose revocation limit is 25."""
    shutil.copy(SAMPLE_DIR / "environment.yaml", empty_env.env_dir / "environment.yaml")
    return empty_env


@pytest.mark.parametrize(
    ("name", "text"),
    [
        pytest.param("sdn-2024-10-01.txt", "", id="empty-file"),
        pytest.param("sdn-2024-10-01.txt", "# OFAC SDN, ETH\n\n# no entries\n", id="comments-only"),
        pytest.param("sdn-2024-10-01.json", "[]\n", id="empty-json-array"),
    ],
)
def test_list_without_addresses_rejected(tree: StateTree, tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    before = (tree.env_dir / "sanctions.yaml").read_bytes()

    with pytest.raises(ValidationError) as error:
        import_sanctions(tree.root, "devnet", path)

    assert error.value.message == f"list {path} contains no addresses"
    assert error.value.hint == (
        "an empty list would delist every entry of its source: check that the file is the whole list"
    )
    assert (tree.env_dir / "sanctions.yaml").read_bytes() == before


def first_lines(source: Path, target: Path, count: int) -> Path:
    target.write_text("".join(source.read_text(encoding="utf-8").splitlines(keepends=True)[:count]), encoding="utf-8")
    return target


MASS_CHANGE_HINT = (
    "a truncated or incomplete list delists every address it leaves out, so check the list; "
    "if these delistings are intended, import it again with --allow-mass-change"
)


def test_truncated_list_needs_mass_change_flag(shared_data: Path, policy_env: StateTree, tmp_path: Path) -> None:
    folder = shared_data / "ofac-eth"
    import_sanctions(policy_env.root, "devnet", folder / "sanctioned-eth-2024-05-29.txt")
    sanctions_file = policy_env.env_dir / "sanctions.yaml"
    before = sanctions_file.read_bytes()
    truncated = first_lines(folder / "sanctioned-eth-2024-09-27.txt", tmp_path / "sdn-2024-10-01.txt", 30)

    with pytest.raises(ValidationError) as error:
        import_sanctions(policy_env.root, "devnet", truncated)

    assert error.value.message == (
        f"list {truncated} would delist 122 OFAC-SDN entries, more than the limit of 25 "
        f"(policy.max_revocations_per_apply in {policy_env.file('environment.yaml')}); nothing was written"
    )
    assert error.value.hint == MASS_CHANGE_HINT
    assert sanctions_file.read_bytes() == before

    report = import_sanctions(policy_env.root, "devnet", truncated, allow_mass_change=True)

    assert len(report.delisted) == 122
    assert report.written


def test_delisting_limit_read_from_environment(policy_env: StateTree, tmp_path: Path) -> None:
    environment = policy_env.env_dir / "environment.yaml"
    text = environment.read_text(encoding="utf-8")
    environment.write_text(text.replace("max_revocations_per_apply: 25", "max_revocations_per_apply: 1"), "utf-8")
    import_sanctions(policy_env.root, "devnet", write_list(tmp_path, "sdn-2024-01-12.txt", [A, B]))
    both_gone = write_list(tmp_path, "sdn-2024-02-21.txt", [C])

    with pytest.raises(ValidationError) as error:
        import_sanctions(policy_env.root, "devnet", both_gone)

    assert error.value.message == (
        f"list {both_gone} would delist 2 OFAC-SDN entries, more than the limit of 1 "
        f"(policy.max_revocations_per_apply in {environment}); nothing was written"
    )


def test_one_delisting_at_limit_allowed(policy_env: StateTree, tmp_path: Path) -> None:
    environment = policy_env.env_dir / "environment.yaml"
    text = environment.read_text(encoding="utf-8")
    environment.write_text(text.replace("max_revocations_per_apply: 25", "max_revocations_per_apply: 1"), "utf-8")
    import_sanctions(policy_env.root, "devnet", write_list(tmp_path, "sdn-2024-01-12.txt", [A, B]))

    report = import_sanctions(policy_env.root, "devnet", write_list(tmp_path, "sdn-2024-02-21.txt", [A]))

    assert report.delisted == [B]


def test_default_limit_without_environment(
    shared_data: Path, empty_env: StateTree, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = shared_data / "ofac-eth"
    import_sanctions(empty_env.root, "devnet", folder / "sanctioned-eth-2024-05-29.txt")
    truncated = first_lines(folder / "sanctioned-eth-2024-09-27.txt", tmp_path / "sdn-2024-10-01.txt", 30)

    with pytest.raises(ValidationError) as error:
        import_sanctions(empty_env.root, "devnet", truncated)

    reason = f"no Environment file was found in {empty_env.env_dir}"
    assert error.value.message == (
        f"list {truncated} would delist 122 OFAC-SDN entries, more than the limit of 25 "
        f"(the default, because {reason}); nothing was written"
    )
    assert caplog.messages == [f"using the default revocation limit 25, because {reason}"]


def test_default_limit_with_invalid_policy(policy_env: StateTree, tmp_path: Path) -> None:
    environment = policy_env.env_dir / "environment.yaml"
    text = environment.read_text(encoding="utf-8")
    environment.write_text(text.replace("max_revocations_per_apply: 25", "max_revocations_per_apply: many"), "utf-8")
    import_sanctions(policy_env.root, "devnet", write_list(tmp_path, "sdn-2024-01-12.txt", [C]))
    many = [f"0x{index:040x}" for index in range(1, 28)]
    import_sanctions(policy_env.root, "devnet", write_list(tmp_path, "sdn-2024-02-21.txt", many))

    with pytest.raises(ValidationError) as error:
        import_sanctions(policy_env.root, "devnet", write_list(tmp_path, "sdn-2024-03-28.txt", [C]))

    assert error.value.message.endswith(
        "would delist 27 OFAC-SDN entries, more than the limit of 25 (the default, because "
        f"policy.max_revocations_per_apply in {environment} is missing or invalid); nothing was written"
    )


def test_default_limit_with_unparsable_environment(policy_env: StateTree, tmp_path: Path) -> None:
    environment = policy_env.env_dir / "environment.yaml"
    environment.write_text(environment.read_text(encoding="utf-8").replace("policy:\n", "policy: {\n"), "utf-8")
    import_sanctions(policy_env.root, "devnet", write_list(tmp_path, "sdn-2024-01-12.txt", [C]))
    many = [f"0x{index:040x}" for index in range(1, 28)]
    import_sanctions(policy_env.root, "devnet", write_list(tmp_path, "sdn-2024-02-21.txt", many))

    with pytest.raises(ValidationError) as error:
        import_sanctions(policy_env.root, "devnet", write_list(tmp_path, "sdn-2024-03-28.txt", [C]))

    assert error.value.message.endswith(
        f"more than the limit of 25 (the default, because {environment} could not be parsed); nothing was written"
    )


def test_command_mass_change_flag(
    shared_data: Path, policy_env: StateTree, tmp_path: Path, run_cli: Callable[..., CliResult]
) -> None:
    folder = shared_data / "ofac-eth"
    import_sanctions(policy_env.root, "devnet", folder / "sanctioned-eth-2024-05-29.txt")
    truncated = first_lines(folder / "sanctioned-eth-2024-09-27.txt", tmp_path / "sdn-2024-10-01.txt", 30)
    command = ["sanctions", "import", str(truncated), "--env", "devnet", "--state-dir", str(policy_env.root)]

    rejected = run_cli(*command)
    allowed = run_cli(*command, "--allow-mass-change")

    assert rejected.exit_code == 1
    assert rejected.stdout == ""
    assert rejected.stderr.startswith(f"error: list {truncated} would delist 122 OFAC-SDN entries, more than ")
    assert allowed.exit_code == 0
    assert allowed.stdout.split("\n")[-3] == (
        "OFAC-SDN list of 2024-10-01: 1 added, 0 relisted, 122 delisted, 29 unchanged"
    )


def test_future_list_date_rejected(tmp_path: Path) -> None:
    path = write_list(tmp_path, "sdn-2999-01-01.txt", [A])
    today = datetime.now(UTC).strftime("%Y-%m-%d")

    with pytest.raises(ValidationError) as error:
        read_address_list(path)

    assert error.value.message == (
        f"list {path} is dated 2999-01-01 by its file name, which is after today ({today} UTC)"
    )
    assert error.value.hint == "check the file name; if 2999-01-01 is the list's real date, pass --list-date 2999-01-01"


def test_future_list_date_given_explicitly(tmp_path: Path) -> None:
    path = write_list(tmp_path, "sdn-2999-01-01.txt", [A])

    assert format_date(read_address_list(path, "2999-01-01").list_date) == "2999-01-01"


@pytest.mark.parametrize(
    ("name", "text"),
    [
        pytest.param("sdn-2024-01-12.txt", f"\ufeff{A}\n{B}\n", id="text"),
        pytest.param("sdn-2024-01-12.json", f'\ufeff["{A}", "{B}"]', id="json"),
    ],
)
def test_list_byte_order_mark_dropped(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")

    assert read_address_list(path).lines == {A: 1, B: 2}


def test_folder_as_list_rejected(empty_env: StateTree, tmp_path: Path, run_cli: Callable[..., CliResult]) -> None:
    folder = tmp_path / "sdn-2024-01-12.txt"
    folder.mkdir()

    result = run_cli("sanctions", "import", str(folder), "--env", "devnet", "--state-dir", str(empty_env.root))

    assert result.exit_code == 1
    assert result.stderr == (
        f"error: list {folder} is a folder\nhint: pass the list file itself, such as sanctioned-eth-2024-09-27.txt\n"
    )


def test_truncated_json_list_hint(tmp_path: Path) -> None:
    path = tmp_path / "sdn-2024-09-27.json"
    path.write_text(f'[\n  "{A}",\n  "{B[:20]}', encoding="utf-8")

    with pytest.raises(ValidationError) as error:
        read_address_list(path)

    assert error.value.message == f"{path}:3:3: invalid JSON: Unterminated string starting at"
    assert error.value.hint == "the file does not end with ], so it looks truncated: download the list again"


def test_zero_address_in_list_rejected(tmp_path: Path) -> None:
    zero = "0x" + "0" * 40
    path = write_list(tmp_path, "sdn-2024-01-12.txt", [A, zero])

    with pytest.raises(ValidationError) as error:
        read_address_list(path)

    assert error.value.message == f"{path}:2: '{zero}' is the zero address, which the JINBI contracts reject"
    assert error.value.hint == "check the address against its source: 0x followed by 40 zeros is no one's account"


def test_long_list_line_shortened(tmp_path: Path) -> None:
    path = write_list(tmp_path, "sdn-2024-01-12.txt", ["x" * 100_000])

    with pytest.raises(ValidationError) as error:
        read_address_list(path)

    assert error.value.message == f"{path}:1: '{'x' * 80}'… (100,000 characters) is not an Ethereum address"


def test_unparsable_sanctions_file_not_replaced(tree: StateTree, tmp_path: Path) -> None:
    # Without its kind, the file looked absent, and the import wrote a new one over it.
    path = tree.env_dir / "sanctions.yaml"
    broken = path.read_text(encoding="utf-8").replace("blocked:\n", "blocked: [\n")
    path.write_text(broken, encoding="utf-8")

    with pytest.raises(DesiredStateError) as error:
        import_sanctions(tree.root, "devnet", write_list(tmp_path, "sdn-2025-11-01.txt", [A]))

    assert error.value.message.startswith(f"{path}:")
    assert error.value.hint == "fix this file first: it may be the Sanctions file, so the import did not write one"
    assert path.read_text(encoding="utf-8") == broken

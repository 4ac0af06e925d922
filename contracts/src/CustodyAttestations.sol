// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.30;

import {AdminRoles} from "./access/AdminRoles.sol";
import {pageLength} from "./utils/Paging.sol";

/// @title CustodyAttestations
/// @notice Custodian proofs of the assets behind the JINBI bond: one IPFS CID per
///         attestation label, keyed by keccak256 of the label, recorded once, grouped by scope.
/// @dev Roles: CUSTODIAN_ROLE records attestations. The CID format is checked off chain.
contract CustodyAttestations is AdminRoles {
    /// @notice Role that records attestations.
    bytes32 public constant CUSTODIAN_ROLE = keccak256("CUSTODIAN_ROLE");

    /// @notice One attestation to record.
    /// @param scope What the attestation covers, such as "monthly-custody".
    /// @param label Unique name of this attestation, such as "monthly-custody-202603".
    /// @param cid IPFS CID of the custodian's report.
    struct Attestation {
        string scope;
        string label;
        string cid;
    }

    /// @notice A recorded attestation; `key` is keccak256(bytes(label)).
    struct AttestationRecord {
        bytes32 key;
        string scope;
        string label;
        string cid;
        uint64 attestedAt;
    }

    bytes32[] private _keys;
    mapping(bytes32 key => AttestationRecord) private _attestations;
    mapping(bytes32 scopeHash => uint64) private _latestAttestedAt;

    /// @notice Emitted when an attestation is recorded; `scopeHash` is keccak256(bytes(scope)).
    event AttestationRecorded(bytes32 indexed key, bytes32 indexed scopeHash, string scope, string label, string cid);

    /// @notice An attestation with the label of key `key` was already recorded.
    error AttestationAlreadyRecorded(bytes32 key, string label);

    /// @notice The attestation at `index` of the batch has an empty scope.
    error EmptyAttestationScope(uint256 index);

    /// @notice The attestation at `index` of the batch has an empty label.
    error EmptyAttestationLabel(uint256 index);

    /// @notice The attestation at `index` of the batch has an empty CID.
    error EmptyAttestationCid(uint256 index);

    /// @param admin The first holder of DEFAULT_ADMIN_ROLE.
    constructor(address admin) AdminRoles(admin) {}

    /// @notice Record every attestation of `attestations`. Each label is recorded at most
    ///         once; a repeated label reverts the whole batch.
    function recordAttestations(Attestation[] calldata attestations) external onlyRole(CUSTODIAN_ROLE) {
        for (uint256 i = 0; i < attestations.length; ++i) {
            Attestation calldata item = attestations[i];
            if (bytes(item.scope).length == 0) revert EmptyAttestationScope(i);
            if (bytes(item.label).length == 0) revert EmptyAttestationLabel(i);
            if (bytes(item.cid).length == 0) revert EmptyAttestationCid(i);
            bytes32 key = keccak256(bytes(item.label));
            if (_attestations[key].attestedAt != 0) revert AttestationAlreadyRecorded(key, item.label);

            bytes32 scopeHash = keccak256(bytes(item.scope));
            uint64 attestedAt = uint64(block.timestamp);
            _attestations[key] = AttestationRecord({
                key: key,
                scope: item.scope,
                label: item.label,
                cid: item.cid,
                attestedAt: attestedAt
            });
            _keys.push(key);
            _latestAttestedAt[scopeHash] = attestedAt;
            emit AttestationRecorded(key, scopeHash, item.scope, item.label, item.cid);
        }
    }

    /// @notice Return the attestation with key `key` (attestedAt 0 and empty strings if none).
    function attestation(bytes32 key) external view returns (AttestationRecord memory) {
        return _attestations[key];
    }

    /// @notice Return the block timestamp of the latest attestation of `scope` (0 if none).
    function latestAttestedAt(string calldata scope) external view returns (uint64) {
        return _latestAttestedAt[keccak256(bytes(scope))];
    }

    /// @notice Return the number of recorded attestations.
    function attestationCount() external view returns (uint256) {
        return _keys.length;
    }

    /// @notice Return up to `count` attestations from index `start`, in recording order.
    ///         The page is clipped at the end of the list.
    function attestationsPage(uint256 start, uint256 count) external view returns (AttestationRecord[] memory page) {
        page = new AttestationRecord[](pageLength(_keys.length, start, count));
        for (uint256 i = 0; i < page.length; ++i) {
            page[i] = _attestations[_keys[start + i]];
        }
    }
}

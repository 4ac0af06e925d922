// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.30;

import {AdminRoles} from "./access/AdminRoles.sol";
import {pageLength} from "./utils/Paging.sol";

/// @title TransferAgentBridge
/// @notice Cap-table snapshots recorded by the transfer agent: one IPFS CID per period,
///         keyed by keccak256 of the period string, recorded once.
/// @dev Roles: TRANSFER_AGENT_ROLE records snapshots. The CID format is checked off chain.
contract TransferAgentBridge is AdminRoles {
    /// @notice Role that records cap-table snapshots.
    bytes32 public constant TRANSFER_AGENT_ROLE = keccak256("TRANSFER_AGENT_ROLE");

    /// @notice One snapshot to record.
    /// @param period The period the cap table covers, such as "2026-Q1".
    /// @param cid IPFS CID of the cap-table document.
    struct Snapshot {
        string period;
        string cid;
    }

    /// @notice A recorded snapshot; `key` is keccak256(bytes(period)).
    struct SnapshotRecord {
        bytes32 key;
        string period;
        string cid;
        uint64 recordedAt;
    }

    bytes32[] private _keys;
    mapping(bytes32 key => SnapshotRecord) private _snapshots;

    /// @notice Emitted when the snapshot of `period` is recorded.
    event SnapshotRecorded(bytes32 indexed key, string period, string cid);

    /// @notice A snapshot of the period with key `key` was already recorded.
    error SnapshotAlreadyRecorded(bytes32 key, string period);

    /// @notice The snapshot at `index` of the batch has an empty period.
    error EmptySnapshotPeriod(uint256 index);

    /// @notice The snapshot at `index` of the batch has an empty CID.
    error EmptySnapshotCid(uint256 index);

    /// @param admin The first holder of DEFAULT_ADMIN_ROLE.
    constructor(address admin) AdminRoles(admin) {}

    /// @notice Record every snapshot of `snapshots`. Each period is recorded at most once;
    ///         a repeated period reverts the whole batch.
    function recordSnapshots(Snapshot[] calldata snapshots) external onlyRole(TRANSFER_AGENT_ROLE) {
        for (uint256 i = 0; i < snapshots.length; ++i) {
            string calldata period = snapshots[i].period;
            string calldata cid = snapshots[i].cid;
            if (bytes(period).length == 0) revert EmptySnapshotPeriod(i);
            if (bytes(cid).length == 0) revert EmptySnapshotCid(i);
            bytes32 key = keccak256(bytes(period));
            if (_snapshots[key].recordedAt != 0) revert SnapshotAlreadyRecorded(key, period);

            _snapshots[key] = SnapshotRecord({key: key, period: period, cid: cid, recordedAt: uint64(block.timestamp)});
            _keys.push(key);
            emit SnapshotRecorded(key, period, cid);
        }
    }

    /// @notice Return the snapshot with key `key` (recordedAt 0 and empty strings if none).
    function snapshot(bytes32 key) external view returns (SnapshotRecord memory) {
        return _snapshots[key];
    }

    /// @notice Return the number of recorded snapshots.
    function snapshotCount() external view returns (uint256) {
        return _keys.length;
    }

    /// @notice Return up to `count` snapshots from index `start`, in recording order. The
    ///         page is clipped at the end of the list.
    function snapshotsPage(uint256 start, uint256 count) external view returns (SnapshotRecord[] memory page) {
        page = new SnapshotRecord[](pageLength(_keys.length, start, count));
        for (uint256 i = 0; i < page.length; ++i) {
            page[i] = _snapshots[_keys[start + i]];
        }
    }
}

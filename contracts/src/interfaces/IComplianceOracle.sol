// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.30;

/// @title IComplianceOracle
/// @notice Transfer rules of the JINBI bond.
/// @dev The reason code returned next to `allowed` is a `Reason` value cast to uint8. Each
///      check function evaluates its rules in the order of the enum and returns the first
///      rule that fails. New codes are appended, so that existing codes keep their numbers.
interface IComplianceOracle {
    /// @notice Reason codes of `canTransfer`, `canReceive` and `canOperate`.
    enum Reason {
        OK, // 0: allowed
        UNKNOWN_PARTITION, // 1: the partition is neither "144A" nor "RegS"
        SENDER_BLOCKED, // 2: the sender is on the blocked list
        SENDER_NOT_REGISTERED, // 3: the sender was never set in the registry
        SENDER_NOT_KYC, // 4: the sender's KYC flag is false
        SENDER_LOCKED, // 5: RegS tokens before the sender's lockup end
        RECEIVER_BLOCKED, // 6: the receiver is on the blocked list
        RECEIVER_NOT_REGISTERED, // 7: the receiver was never set in the registry
        RECEIVER_NOT_KYC, // 8: the receiver's KYC flag is false
        RECEIVER_NOT_QIB, // 9: a 144A receiver who is not a qualified institutional buyer
        OPERATOR_BLOCKED, // 10: the operator is on the blocked list
        OPERATOR_NOT_REGISTERED, // 11: the operator was never set in the registry
        OPERATOR_NOT_KYC // 12: the operator's KYC flag is false
    }

    /// @notice Check whether `from` may transfer `amount` tokens of `partition` to `to`.
    /// @return allowed True if every rule passes.
    /// @return reason A `Reason` code; 0 (OK) when allowed.
    function canTransfer(bytes32 partition, address from, address to, uint256 amount)
        external
        view
        returns (bool allowed, uint8 reason);

    /// @notice Check whether `to` may receive tokens of `partition` by issuance.
    /// @return allowed True if every receiver rule passes.
    /// @return reason A `Reason` code; 0 (OK) when allowed.
    function canReceive(bytes32 partition, address to) external view returns (bool allowed, uint8 reason);

    /// @notice Check whether `operator` may move tokens that another holder owns, as the
    ///         spender of an allowance. The holder's own transfer is checked by `canTransfer`.
    /// @return allowed True if every operator rule passes.
    /// @return reason A `Reason` code; 0 (OK) when allowed.
    function canOperate(address operator) external view returns (bool allowed, uint8 reason);

    /// @notice Return the Unix time in seconds at which the Reg S lockup of `account` ends (0 for none).
    function lockupOf(address account) external view returns (uint64);
}

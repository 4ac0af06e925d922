// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.30;

import {IComplianceOracle} from "./interfaces/IComplianceOracle.sol";
import {IComplianceRegistry} from "./interfaces/IComplianceRegistry.sol";

/// @title ComplianceOracle
/// @notice Transfer rules of the JINBI bond, evaluated against the ComplianceRegistry:
///         sender and receiver registered, KYC'd and not blocked; a 144A receiver must be
///         a qualified institutional buyer; RegS tokens cannot leave the sender before the
///         sender's Reg S lockup end (block.timestamp >= lockupUntil releases them). An
///         operator who moves another holder's tokens must be registered, KYC'd and not
///         blocked.
/// @dev Stateless apart from the immutable registry address, so it has no roles: the
///      token's admin replaces the whole rule engine with `CompliantSecurityToken.setOracle`.
///      The Reg S lockup end is stored in the registry next to the investor's flags (one
///      storage slot per investor) and `lockupOf` reads it from there.
contract ComplianceOracle is IComplianceOracle {
    // The token's two partitions, which the token's own getters publish. Public getters
    // here would give the oracle seven external functions. At seven, solc 0.8.30 with the
    // optimizer at 200 runs splits the selector dispatch, which measured 23 gas more per
    // `canTransfer` call on anvil 1.7.1.
    bytes32 private constant PARTITION_144A = "144A";
    bytes32 private constant PARTITION_REGS = "RegS";

    /// @notice The registry that holds investor records and the blocked list.
    IComplianceRegistry public immutable registry;

    /// @notice The registry address is the zero address.
    error ZeroAddress();

    /// @param registry_ The ComplianceRegistry to read.
    constructor(IComplianceRegistry registry_) {
        if (address(registry_) == address(0)) revert ZeroAddress();
        registry = registry_;
    }

    /// @inheritdoc IComplianceOracle
    /// @dev `amount` does not change the outcome; it is part of the signature so that
    ///      amount-based rules can be added without changing callers.
    function canTransfer(bytes32 partition, address from, address to, uint256 amount)
        external
        view
        returns (bool allowed, uint8 reason)
    {
        amount;
        Reason result = _checkPartition(partition);
        if (result == Reason.OK) result = _checkSender(partition, from);
        if (result == Reason.OK) result = _checkReceiver(partition, to);
        return (result == Reason.OK, uint8(result));
    }

    /// @inheritdoc IComplianceOracle
    function canReceive(bytes32 partition, address to) external view returns (bool allowed, uint8 reason) {
        Reason result = _checkPartition(partition);
        if (result == Reason.OK) result = _checkReceiver(partition, to);
        return (result == Reason.OK, uint8(result));
    }

    /// @inheritdoc IComplianceOracle
    /// @dev Checks only the operator. The token calls it once per `transferFrom` whose
    ///      caller is not the holder, and then `canTransfer` for each partition part.
    function canOperate(address operator) external view returns (bool allowed, uint8 reason) {
        Reason result = _checkOperator(operator);
        return (result == Reason.OK, uint8(result));
    }

    /// @inheritdoc IComplianceOracle
    function lockupOf(address account) external view returns (uint64) {
        return registry.investor(account).lockupUntil;
    }

    function _checkPartition(bytes32 partition) private pure returns (Reason) {
        if (partition == PARTITION_144A || partition == PARTITION_REGS) return Reason.OK;
        return Reason.UNKNOWN_PARTITION;
    }

    function _checkSender(bytes32 partition, address from) private view returns (Reason) {
        if (registry.isBlocked(from)) return Reason.SENDER_BLOCKED;
        IComplianceRegistry.Investor memory sender = registry.investor(from);
        if (!sender.registered) return Reason.SENDER_NOT_REGISTERED;
        if (!sender.kyc) return Reason.SENDER_NOT_KYC;
        if (partition == PARTITION_REGS && block.timestamp < sender.lockupUntil) return Reason.SENDER_LOCKED;
        return Reason.OK;
    }

    function _checkReceiver(bytes32 partition, address to) private view returns (Reason) {
        if (registry.isBlocked(to)) return Reason.RECEIVER_BLOCKED;
        IComplianceRegistry.Investor memory receiver = registry.investor(to);
        if (!receiver.registered) return Reason.RECEIVER_NOT_REGISTERED;
        if (!receiver.kyc) return Reason.RECEIVER_NOT_KYC;
        if (partition == PARTITION_144A && !receiver.qib) return Reason.RECEIVER_NOT_QIB;
        return Reason.OK;
    }

    function _checkOperator(address operator) private view returns (Reason) {
        if (registry.isBlocked(operator)) return Reason.OPERATOR_BLOCKED;
        IComplianceRegistry.Investor memory record = registry.investor(operator);
        if (!record.registered) return Reason.OPERATOR_NOT_REGISTERED;
        if (!record.kyc) return Reason.OPERATOR_NOT_KYC;
        return Reason.OK;
    }
}

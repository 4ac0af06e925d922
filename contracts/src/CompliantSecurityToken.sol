// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";

import {AdminRoles} from "./access/AdminRoles.sol";
import {IComplianceOracle} from "./interfaces/IComplianceOracle.sol";
import {ISecurityTokenIssuance} from "./interfaces/ISecurityTokenIssuance.sol";
import {isAsciiId} from "./utils/AsciiId.sol";
import {pageLength} from "./utils/Paging.sol";

/// @title CompliantSecurityToken
/// @notice The JINBI bond token: balances held in two partitions, "144A" and "RegS",
///         with an ERC-20 view of their sum. Every transfer and every issuance is checked
///         against the compliance oracle; the plain ERC-20 path follows the same rules as
///         the partition path, and a spender who moves another holder's tokens with
///         `transferFrom` must pass the oracle's operator rules too. Only `forceTransfer`
///         bypasses the oracle.
/// @dev Roles: PAUSER_ROLE pauses and unpauses, CONTROLLER_ROLE executes court-ordered
///      force transfers, MINTER_ROLE issues (granted to DvPSettlement only),
///      DEFAULT_ADMIN_ROLE replaces the oracle and manages roles.
contract CompliantSecurityToken is
    AdminRoles,
    Pausable,
    IERC20,
    IERC20Metadata,
    IERC20Errors,
    ISecurityTokenIssuance
{
    /// @notice Role that pauses and unpauses transfers and issuance.
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");

    /// @notice Role that executes court-ordered force transfers.
    bytes32 public constant CONTROLLER_ROLE = keccak256("CONTROLLER_ROLE");

    /// @notice Role that issues new tokens.
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");

    /// @notice Partition of tokens sold under Rule 144A to qualified institutional buyers.
    bytes32 public constant PARTITION_144A = "144A";

    /// @notice Partition of tokens sold offshore under Regulation S.
    bytes32 public constant PARTITION_REGS = "RegS";

    /// @notice A court-ordered transfer executed by `forceTransfer`.
    struct ForceTransferOrder {
        bytes32 orderId;
        bytes32 partition;
        address from;
        address to;
        uint256 amount;
        string legalReference;
        uint64 executedAt;
    }

    IComplianceOracle private _oracle;
    mapping(bytes32 partition => mapping(address account => uint256)) private _balances;
    mapping(bytes32 partition => uint256) private _partitionSupply;
    uint256 private _totalSupply;
    mapping(address owner => mapping(address spender => uint256)) private _allowances;
    bytes32[] private _orderIds;
    mapping(bytes32 orderId => ForceTransferOrder) private _orders;

    /// @notice Emitted for every movement of one partition's tokens, next to the ERC-20
    ///         Transfer event; `from` is the zero address for issuance.
    event TransferByPartition(bytes32 indexed partition, address indexed from, address indexed to, uint256 amount);

    /// @notice Emitted when a court-ordered transfer is executed.
    event ForceTransferred(
        bytes32 indexed orderId,
        bytes32 indexed partition,
        address indexed from,
        address to,
        uint256 amount,
        string legalReference
    );

    /// @notice Emitted when the admin replaces the compliance oracle.
    event OracleUpdated(address indexed previousOracle, address indexed newOracle);

    /// @notice The oracle rejected moving tokens of `partition` from `from` to `to`
    ///         (`from` is the zero address for issuance). `reason` is an
    ///         IComplianceOracle.Reason code.
    error TransferNotAllowed(bytes32 partition, address from, address to, uint8 reason);

    /// @notice The oracle rejected `operator` as the spender of `holder`'s tokens. `reason`
    ///         is an IComplianceOracle.Reason code, which ComplianceOracle sets to
    ///         OPERATOR_BLOCKED, OPERATOR_NOT_REGISTERED or OPERATOR_NOT_KYC.
    error OperatorNotAllowed(address operator, address holder, uint8 reason);

    /// @notice `account` holds `balance` tokens of `partition`, less than the `needed` amount.
    error InsufficientPartitionBalance(bytes32 partition, address account, uint256 balance, uint256 needed);

    /// @notice `partition` is neither "144A" nor "RegS".
    error UnknownPartition(bytes32 partition);

    /// @notice `orderId` is not a left-aligned, zero-padded printable ASCII string.
    error InvalidOrderId(bytes32 orderId);

    /// @notice The force-transfer order `orderId` was already executed.
    error OrderAlreadyExecuted(bytes32 orderId);

    /// @notice The force-transfer order `orderId` has an empty legal reference.
    error EmptyLegalReference(bytes32 orderId);

    /// @notice An amount that must be positive is zero.
    error ZeroAmount();

    /// @param admin The first holder of DEFAULT_ADMIN_ROLE.
    /// @param oracle_ The compliance oracle that checks transfers and issuance.
    constructor(address admin, IComplianceOracle oracle_) AdminRoles(admin) {
        _setOracle(oracle_);
    }

    // ---------------------------------------------------------------- ERC-20 metadata and views

    /// @notice Return the token name.
    function name() external pure returns (string memory) {
        return "JINBI Bond";
    }

    /// @notice Return the token symbol.
    function symbol() external pure returns (string memory) {
        return "JINBI";
    }

    /// @notice Return the number of decimals of token amounts.
    function decimals() external pure returns (uint8) {
        return 18;
    }

    /// @notice Return the supply of both partitions together.
    function totalSupply() external view returns (uint256) {
        return _totalSupply;
    }

    /// @notice Return the balance of `account` in both partitions together.
    function balanceOf(address account) public view returns (uint256) {
        return _balances[PARTITION_144A][account] + _balances[PARTITION_REGS][account];
    }

    /// @notice Return the remaining amount `spender` may transfer from `owner`.
    function allowance(address owner, address spender) external view returns (uint256) {
        return _allowances[owner][spender];
    }

    // ---------------------------------------------------------------- partition views

    /// @notice Return the partitions of the token: "144A" and "RegS".
    function partitions() external pure returns (bytes32[] memory list) {
        list = new bytes32[](2);
        list[0] = PARTITION_144A;
        list[1] = PARTITION_REGS;
    }

    /// @notice Return the balance of `account` in `partition` (0 for an unknown partition).
    function balanceOfByPartition(bytes32 partition, address account) external view returns (uint256) {
        return _balances[partition][account];
    }

    /// @notice Return the supply of `partition` (0 for an unknown partition).
    function totalSupplyByPartition(bytes32 partition) external view returns (uint256) {
        return _partitionSupply[partition];
    }

    /// @inheritdoc ISecurityTokenIssuance
    function oracle() external view returns (address) {
        return address(_oracle);
    }

    // ---------------------------------------------------------------- transfers

    /// @notice Transfer `amount` tokens to `to`, taken from the caller's 144A balance first,
    ///         then from RegS. Each partition's part is checked against the oracle as in
    ///         `transferByPartition`; a zero amount is checked on the 144A partition.
    /// @dev Reverts with EnforcedPause while paused, ERC20InsufficientBalance if both
    ///      partitions together hold less than `amount`, or TransferNotAllowed for the first
    ///      part that the oracle rejects.
    function transfer(address to, uint256 amount) external whenNotPaused returns (bool) {
        _transferAcrossPartitions(msg.sender, to, amount);
        return true;
    }

    /// @notice Transfer `amount` tokens from `from` to `to` using the caller's allowance,
    ///         with the partition order and checks of `transfer`. A caller other than `from`
    ///         is an operator and must pass the oracle's `canOperate` (registered, KYC'd,
    ///         not blocked) at the time it spends, not only when it was approved.
    /// @dev Reverts with EnforcedPause while paused, then OperatorNotAllowed(caller, from,
    ///      reason) before the allowance is read, then ERC20InsufficientAllowance, then
    ///      the errors of `transfer`. A caller equal to `from` skips `canOperate`, because
    ///      `canTransfer` applies the same rules to the sender. An allowance of
    ///      type(uint256).max is never decreased.
    function transferFrom(address from, address to, uint256 amount) external whenNotPaused returns (bool) {
        if (msg.sender != from) _checkOperator(msg.sender, from);
        _spendAllowance(from, msg.sender, amount);
        _transferAcrossPartitions(from, to, amount);
        return true;
    }

    /// @notice Allow `spender` to transfer up to `amount` of the caller's tokens. Allowed
    ///         while paused, and for any spender, because approving moves no tokens:
    ///         `transferFrom` checks the spender against the oracle when it spends.
    function approve(address spender, uint256 amount) external returns (bool) {
        _approve(msg.sender, spender, amount);
        return true;
    }

    /// @notice Transfer `amount` tokens of `partition` from the caller to `to`.
    /// @dev Checks the oracle first (an unknown partition gives reason UNKNOWN_PARTITION),
    ///      then the caller's balance in the partition.
    function transferByPartition(bytes32 partition, address to, uint256 amount) external whenNotPaused {
        if (to == address(0)) revert ERC20InvalidReceiver(address(0));
        _checkTransfer(partition, msg.sender, to, amount);
        _move(partition, msg.sender, to, amount);
        emit Transfer(msg.sender, to, amount);
    }

    // ---------------------------------------------------------------- issuance, pause, force transfer

    /// @inheritdoc ISecurityTokenIssuance
    /// @dev Only MINTER_ROLE, and not while paused. The receiver must pass the oracle's
    ///      `canReceive`; otherwise reverts with TransferNotAllowed(partition, 0, to, reason).
    function issue(bytes32 partition, address to, uint256 amount) external onlyRole(MINTER_ROLE) whenNotPaused {
        if (amount == 0) revert ZeroAmount();
        if (to == address(0)) revert ERC20InvalidReceiver(address(0));
        (bool allowed, uint8 reason) = _oracle.canReceive(partition, to);
        if (!allowed) revert TransferNotAllowed(partition, address(0), to, reason);

        _balances[partition][to] += amount;
        _partitionSupply[partition] += amount;
        _totalSupply += amount;
        emit TransferByPartition(partition, address(0), to, amount);
        emit Transfer(address(0), to, amount);
    }

    /// @notice Stop every transfer and every issuance until `unpause`. Force transfers
    ///         still work.
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @notice Resume transfers and issuance.
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    /// @notice Execute the court-ordered transfer `orderId`: move `amount` tokens of
    ///         `partition` from `from` to `to`, bypassing pause and compliance rules but not
    ///         balances. Each order id executes at most once.
    /// @param orderId Left-aligned, zero-padded printable ASCII id, such as "ORDER-2026-001".
    /// @param legalReference The court order's reference (docket number or document link).
    function forceTransfer(
        bytes32 orderId,
        bytes32 partition,
        address from,
        address to,
        uint256 amount,
        string calldata legalReference
    ) external onlyRole(CONTROLLER_ROLE) {
        if (!isAsciiId(orderId)) revert InvalidOrderId(orderId);
        if (_orders[orderId].executedAt != 0) revert OrderAlreadyExecuted(orderId);
        if (partition != PARTITION_144A && partition != PARTITION_REGS) revert UnknownPartition(partition);
        if (from == address(0)) revert ERC20InvalidSender(address(0));
        if (to == address(0)) revert ERC20InvalidReceiver(address(0));
        if (amount == 0) revert ZeroAmount();
        if (bytes(legalReference).length == 0) revert EmptyLegalReference(orderId);

        _orders[orderId] = ForceTransferOrder({
            orderId: orderId,
            partition: partition,
            from: from,
            to: to,
            amount: amount,
            legalReference: legalReference,
            executedAt: uint64(block.timestamp)
        });
        _orderIds.push(orderId);
        _move(partition, from, to, amount);
        emit Transfer(from, to, amount);
        emit ForceTransferred(orderId, partition, from, to, amount, legalReference);
    }

    /// @notice Replace the compliance oracle.
    function setOracle(IComplianceOracle newOracle) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setOracle(newOracle);
    }

    // ---------------------------------------------------------------- force-transfer views

    /// @notice Return the number of executed force-transfer orders.
    function forceTransferCount() external view returns (uint256) {
        return _orderIds.length;
    }

    /// @notice Return up to `count` executed orders from index `start`, in execution order.
    ///         The page is clipped at the end of the list.
    function forceTransfersPage(uint256 start, uint256 count)
        external
        view
        returns (ForceTransferOrder[] memory page)
    {
        page = new ForceTransferOrder[](pageLength(_orderIds.length, start, count));
        for (uint256 i = 0; i < page.length; ++i) {
            page[i] = _orders[_orderIds[start + i]];
        }
    }

    /// @notice Return the executed order `orderId` (executedAt 0 if it was never executed).
    function forceTransferOrder(bytes32 orderId) external view returns (ForceTransferOrder memory) {
        return _orders[orderId];
    }

    // ---------------------------------------------------------------- internals

    function _transferAcrossPartitions(address from, address to, uint256 amount) private {
        if (to == address(0)) revert ERC20InvalidReceiver(address(0));
        uint256 balance144A = _balances[PARTITION_144A][from];
        uint256 balanceRegS = _balances[PARTITION_REGS][from];
        if (balance144A + balanceRegS < amount) {
            revert ERC20InsufficientBalance(from, balance144A + balanceRegS, amount);
        }

        // 144A first, then RegS; every part is checked before any balance changes.
        uint256 part144A = amount < balance144A ? amount : balance144A;
        uint256 partRegS = amount - part144A;
        if (part144A > 0 || amount == 0) _checkTransfer(PARTITION_144A, from, to, part144A);
        if (partRegS > 0) _checkTransfer(PARTITION_REGS, from, to, partRegS);

        if (part144A > 0) _move(PARTITION_144A, from, to, part144A);
        if (partRegS > 0) _move(PARTITION_REGS, from, to, partRegS);
        emit Transfer(from, to, amount);
    }

    function _checkTransfer(bytes32 partition, address from, address to, uint256 amount) private view {
        (bool allowed, uint8 reason) = _oracle.canTransfer(partition, from, to, amount);
        if (!allowed) revert TransferNotAllowed(partition, from, to, reason);
    }

    function _checkOperator(address operator, address holder) private view {
        (bool allowed, uint8 reason) = _oracle.canOperate(operator);
        if (!allowed) revert OperatorNotAllowed(operator, holder, reason);
    }

    /// @dev Moves one partition's tokens; the caller emits the ERC-20 Transfer event.
    function _move(bytes32 partition, address from, address to, uint256 amount) private {
        uint256 balance = _balances[partition][from];
        if (balance < amount) revert InsufficientPartitionBalance(partition, from, balance, amount);
        unchecked {
            // Cannot underflow (checked above) or overflow (bounded by the partition supply).
            _balances[partition][from] = balance - amount;
            _balances[partition][to] += amount;
        }
        emit TransferByPartition(partition, from, to, amount);
    }

    function _approve(address owner, address spender, uint256 amount) private {
        if (owner == address(0)) revert ERC20InvalidApprover(address(0));
        if (spender == address(0)) revert ERC20InvalidSpender(address(0));
        _allowances[owner][spender] = amount;
        emit Approval(owner, spender, amount);
    }

    function _spendAllowance(address owner, address spender, uint256 amount) private {
        uint256 current = _allowances[owner][spender];
        if (current == type(uint256).max) return;
        if (current < amount) revert ERC20InsufficientAllowance(spender, current, amount);
        unchecked {
            _allowances[owner][spender] = current - amount;
        }
    }

    function _setOracle(IComplianceOracle newOracle) private {
        if (address(newOracle) == address(0)) revert ZeroAddress();
        emit OracleUpdated(address(_oracle), address(newOracle));
        _oracle = newOracle;
    }
}

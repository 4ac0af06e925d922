// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

import {AdminRoles} from "./access/AdminRoles.sol";
import {pageLength} from "./utils/Paging.sol";

/// @title CorporateActions
/// @notice Quarterly coupon payments of the JINBI bond: each coupon cycle is paid once, by
///         pulling its USDC amount from the treasury into this contract.
/// @dev Roles: ISSUER_ROLE pays coupons, DEFAULT_ADMIN_ROLE sets the treasury. The
///      treasury must approve this contract for the amount before `payCoupon`.
///      NOTE: no function moves USDC out of this contract yet; distribution to holders is
///      not implemented on chain.
contract CorporateActions is AdminRoles {
    using SafeERC20 for IERC20;

    /// @notice Role that pays coupons.
    bytes32 public constant ISSUER_ROLE = keccak256("ISSUER_ROLE");

    /// @notice A paid coupon cycle.
    /// @param period Human label of the period, such as "2026-Q1".
    /// @param rateBps Coupon rate of the period in basis points (125 = 1.25 %).
    /// @param recordDate Unix time in seconds of the holder snapshot the coupon is owed on.
    /// @param paymentDate Unix time in seconds from which the coupon may be paid.
    /// @param amount USDC base units (6 decimals) pulled from the treasury.
    /// @param paidAt Block timestamp of the payment.
    struct CouponCycle {
        uint256 cycleId;
        string period;
        uint16 rateBps;
        uint64 recordDate;
        uint64 paymentDate;
        uint256 amount;
        uint64 paidAt;
    }

    /// @notice The coupon currency (USDC, 6 decimals).
    IERC20 public immutable usdc;

    address private _treasury;
    uint256[] private _cycleIds;
    mapping(uint256 cycleId => CouponCycle) private _cycles;

    /// @notice Emitted when coupon cycle `cycleId` is paid.
    event CouponPaid(
        uint256 indexed cycleId,
        string period,
        uint16 rateBps,
        uint64 recordDate,
        uint64 paymentDate,
        uint256 amount,
        uint64 paidAt
    );

    /// @notice Emitted when the admin changes the treasury that funds coupons.
    event TreasuryUpdated(address indexed previousTreasury, address indexed newTreasury);

    /// @notice Coupon cycle `cycleId` was already paid.
    error CouponAlreadyPaid(uint256 cycleId);

    /// @notice Coupon cycle `cycleId` has an empty period.
    error EmptyPeriod(uint256 cycleId);

    /// @notice The record date of cycle `cycleId` is after its payment date.
    error RecordDateAfterPaymentDate(uint256 cycleId, uint64 recordDate, uint64 paymentDate);

    /// @notice Cycle `cycleId` cannot be paid before `paymentDate`; the block time is `currentTime`.
    error PaymentDateNotReached(uint256 cycleId, uint64 paymentDate, uint256 currentTime);

    /// @notice Coupon cycle `cycleId` has a zero amount.
    error ZeroCouponAmount(uint256 cycleId);

    /// @param admin The first holder of DEFAULT_ADMIN_ROLE.
    /// @param usdc_ The coupon currency.
    /// @param treasury_ The account that funds coupons.
    constructor(address admin, IERC20 usdc_, address treasury_) AdminRoles(admin) {
        if (address(usdc_) == address(0)) revert ZeroAddress();
        usdc = usdc_;
        _setTreasury(treasury_);
    }

    /// @notice Pay coupon cycle `cycleId` by pulling `amount` USDC base units from the
    ///         treasury into this contract. Each cycle id is paid at most once, only when
    ///         block.timestamp >= paymentDate, with recordDate <= paymentDate and amount > 0.
    function payCoupon(
        uint256 cycleId,
        string calldata period,
        uint16 rateBps,
        uint64 recordDate,
        uint64 paymentDate,
        uint256 amount
    ) external onlyRole(ISSUER_ROLE) {
        if (_cycles[cycleId].paidAt != 0) revert CouponAlreadyPaid(cycleId);
        if (bytes(period).length == 0) revert EmptyPeriod(cycleId);
        if (recordDate > paymentDate) revert RecordDateAfterPaymentDate(cycleId, recordDate, paymentDate);
        if (block.timestamp < paymentDate) revert PaymentDateNotReached(cycleId, paymentDate, block.timestamp);
        if (amount == 0) revert ZeroCouponAmount(cycleId);

        uint64 paidAt = uint64(block.timestamp);
        _cycles[cycleId] = CouponCycle({
            cycleId: cycleId,
            period: period,
            rateBps: rateBps,
            recordDate: recordDate,
            paymentDate: paymentDate,
            amount: amount,
            paidAt: paidAt
        });
        _cycleIds.push(cycleId);
        emit CouponPaid(cycleId, period, rateBps, recordDate, paymentDate, amount, paidAt);

        usdc.safeTransferFrom(_treasury, address(this), amount);
    }

    /// @notice Set the account that funds coupons.
    function setTreasury(address newTreasury) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setTreasury(newTreasury);
    }

    /// @notice Return true if coupon cycle `cycleId` was paid.
    function isPaid(uint256 cycleId) external view returns (bool) {
        return _cycles[cycleId].paidAt != 0;
    }

    /// @notice Return paid cycle `cycleId` (paidAt 0 and zero fields if it was not paid).
    function cycle(uint256 cycleId) external view returns (CouponCycle memory) {
        return _cycles[cycleId];
    }

    /// @notice Return the number of paid cycles.
    function cycleCount() external view returns (uint256) {
        return _cycleIds.length;
    }

    /// @notice Return up to `count` paid cycles from index `start`, in payment order. The
    ///         page is clipped at the end of the list.
    function cyclesPage(uint256 start, uint256 count) external view returns (CouponCycle[] memory page) {
        page = new CouponCycle[](pageLength(_cycleIds.length, start, count));
        for (uint256 i = 0; i < page.length; ++i) {
            page[i] = _cycles[_cycleIds[start + i]];
        }
    }

    /// @notice Return the account that funds coupons.
    function treasury() external view returns (address) {
        return _treasury;
    }

    function _setTreasury(address newTreasury) private {
        if (newTreasury == address(0)) revert ZeroAddress();
        emit TreasuryUpdated(_treasury, newTreasury);
        _treasury = newTreasury;
    }
}

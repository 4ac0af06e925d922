// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

import {AdminRoles} from "./access/AdminRoles.sol";
import {IComplianceOracle} from "./interfaces/IComplianceOracle.sol";
import {ISecurityTokenIssuance} from "./interfaces/ISecurityTokenIssuance.sol";
import {isAsciiId} from "./utils/AsciiId.sol";
import {pageLength} from "./utils/Paging.sol";

/// @title DvPSettlement
/// @notice Primary issuance against USDC, delivery versus payment: the issuer books an
///         allocation, and the booked investor settles it by paying USDC to the treasury
///         and receiving the tokens in the same transaction.
/// @dev Roles: ISSUER_ROLE books and cancels, DEFAULT_ADMIN_ROLE sets the treasury. This
///      contract must hold MINTER_ROLE on the token. Booking ids are never reusable: a
///      settled or cancelled id stays taken.
contract DvPSettlement is AdminRoles, ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @notice Role that books and cancels allocations.
    bytes32 public constant ISSUER_ROLE = keccak256("ISSUER_ROLE");

    /// @notice Lifecycle of a booking; ABI-encoded as uint8.
    enum Status {
        None, // 0: the id was never booked
        Booked, // 1: waiting for the investor to settle
        Settled, // 2: paid and issued
        Cancelled // 3: cancelled by the issuer
    }

    /// @notice One allocation to book.
    /// @param id Left-aligned, zero-padded printable ASCII id, such as "ALLOC-0001".
    /// @param partition "144A" or "RegS".
    /// @param amount Token base units (18 decimals).
    /// @param price USDC base units (6 decimals) per whole token (10**18 base units).
    struct BookingRequest {
        bytes32 id;
        bytes32 partition;
        address investor;
        uint256 amount;
        uint256 price;
    }

    /// @notice A booked allocation and its state.
    /// @param bookedAt Block timestamp of `book`.
    /// @param closedAt Block timestamp of `settle` or `cancel`; 0 while booked.
    struct Booking {
        bytes32 id;
        bytes32 partition;
        address investor;
        uint256 amount;
        uint256 price;
        Status status;
        uint64 bookedAt;
        uint64 closedAt;
    }

    /// @notice The token this contract issues.
    ISecurityTokenIssuance public immutable token;

    /// @notice The stablecoin investors pay with (USDC, 6 decimals).
    IERC20 public immutable usdc;

    address private _treasury;
    bytes32[] private _bookingIds;
    mapping(bytes32 id => Booking) private _bookings;

    /// @notice Emitted when an allocation is booked.
    event Booked(
        bytes32 indexed id, bytes32 indexed partition, address indexed investor, uint256 amount, uint256 price
    );

    /// @notice Emitted when a booking is cancelled.
    event BookingCancelled(bytes32 indexed id);

    /// @notice Emitted when the investor settles a booking; `cost` is the USDC paid.
    event Settled(bytes32 indexed id, address indexed investor, bytes32 partition, uint256 amount, uint256 cost);

    /// @notice Emitted when the admin changes the treasury that receives payments.
    event TreasuryUpdated(address indexed previousTreasury, address indexed newTreasury);

    /// @notice `id` is not a left-aligned, zero-padded printable ASCII string.
    error InvalidBookingId(bytes32 id);

    /// @notice `id` was already used by a booking (booked, settled or cancelled).
    error BookingIdTaken(bytes32 id);

    /// @notice Booking `id` has a zero amount.
    error ZeroBookingAmount(bytes32 id);

    /// @notice Booking `id` has a zero price.
    error ZeroBookingPrice(bytes32 id);

    /// @notice The investor of booking `id` cannot receive `partition` tokens; `reason` is
    ///         an IComplianceOracle.Reason code.
    error InvestorCannotReceive(bytes32 id, bytes32 partition, address investor, uint8 reason);

    /// @notice Booking `id` has `status`, but the operation needs a booked (status 1) booking.
    error BookingNotOpen(bytes32 id, Status status);

    /// @notice `caller` is not the investor of booking `id`.
    error NotBookingInvestor(bytes32 id, address caller);

    /// @notice No booking has id `id`.
    error BookingNotFound(bytes32 id);

    /// @param admin The first holder of DEFAULT_ADMIN_ROLE.
    /// @param token_ The security token; this contract needs its MINTER_ROLE.
    /// @param usdc_ The payment token.
    /// @param treasury_ The account that receives payments.
    constructor(address admin, ISecurityTokenIssuance token_, IERC20 usdc_, address treasury_) AdminRoles(admin) {
        if (address(token_) == address(0) || address(usdc_) == address(0)) revert ZeroAddress();
        token = token_;
        usdc = usdc_;
        _setTreasury(treasury_);
    }

    // ---------------------------------------------------------------- writes

    /// @notice Book every allocation of `requests`. Each investor must be able to receive
    ///         the partition (oracle `canReceive`) now; amount and price must be positive;
    ///         each id must never have been used.
    function book(BookingRequest[] calldata requests) external onlyRole(ISSUER_ROLE) {
        IComplianceOracle oracle = IComplianceOracle(token.oracle());
        for (uint256 i = 0; i < requests.length; ++i) {
            BookingRequest calldata request = requests[i];
            bytes32 id = request.id;
            if (!isAsciiId(id)) revert InvalidBookingId(id);
            if (_bookings[id].status != Status.None) revert BookingIdTaken(id);
            if (request.amount == 0) revert ZeroBookingAmount(id);
            if (request.price == 0) revert ZeroBookingPrice(id);
            (bool allowed, uint8 reason) = oracle.canReceive(request.partition, request.investor);
            if (!allowed) revert InvestorCannotReceive(id, request.partition, request.investor, reason);

            _bookings[id] = Booking({
                id: id,
                partition: request.partition,
                investor: request.investor,
                amount: request.amount,
                price: request.price,
                status: Status.Booked,
                bookedAt: uint64(block.timestamp),
                closedAt: 0
            });
            _bookingIds.push(id);
            emit Booked(id, request.partition, request.investor, request.amount, request.price);
        }
    }

    /// @notice Cancel every booking of `ids`. Each must be booked (not settled, not
    ///         cancelled). A cancelled id can never be booked again.
    function cancel(bytes32[] calldata ids) external onlyRole(ISSUER_ROLE) {
        for (uint256 i = 0; i < ids.length; ++i) {
            Booking storage entry = _bookings[ids[i]];
            if (entry.status != Status.Booked) revert BookingNotOpen(ids[i], entry.status);
            entry.status = Status.Cancelled;
            entry.closedAt = uint64(block.timestamp);
            emit BookingCancelled(ids[i]);
        }
    }

    /// @notice Settle booking `id`: the caller, who must be its investor, pays `costOf(id)`
    ///         USDC to the treasury (after approving this contract), and receives the
    ///         booked amount of tokens in the booked partition.
    /// @dev Reverts while the token is paused (the token's `issue` raises EnforcedPause)
    ///      and when the oracle no longer lets the investor receive the partition.
    function settle(bytes32 id) external nonReentrant {
        Booking storage entry = _bookings[id];
        if (entry.status != Status.Booked) revert BookingNotOpen(id, entry.status);
        if (entry.investor != msg.sender) revert NotBookingInvestor(id, msg.sender);
        uint256 cost = _cost(entry.amount, entry.price);

        entry.status = Status.Settled;
        entry.closedAt = uint64(block.timestamp);
        emit Settled(id, msg.sender, entry.partition, entry.amount, cost);

        usdc.safeTransferFrom(msg.sender, _treasury, cost);
        token.issue(entry.partition, msg.sender, entry.amount);
    }

    /// @notice Set the account that receives settlement payments.
    function setTreasury(address newTreasury) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setTreasury(newTreasury);
    }

    // ---------------------------------------------------------------- views

    /// @notice Return the USDC cost of booking `id` in USDC base units:
    ///         ceil(amount * price / 10**18), computed exactly with Math.mulDiv and rounded
    ///         up to the next USDC base unit, so the issuer never receives less than the
    ///         exact price.
    ///         Works in every status, so the cost of a settled booking stays readable.
    /// @dev Reverts with BookingNotFound for an id that was never booked.
    function costOf(bytes32 id) external view returns (uint256) {
        Booking storage entry = _bookings[id];
        if (entry.status == Status.None) revert BookingNotFound(id);
        return _cost(entry.amount, entry.price);
    }

    /// @notice Return booking `id` (status None and zero fields if it was never booked).
    function booking(bytes32 id) external view returns (Booking memory) {
        return _bookings[id];
    }

    /// @notice Return the number of bookings ever made, in every status.
    function bookingCount() external view returns (uint256) {
        return _bookingIds.length;
    }

    /// @notice Return up to `count` bookings from index `start`, in booking order. The page
    ///         is clipped at the end of the list.
    function bookingsPage(uint256 start, uint256 count) external view returns (Booking[] memory page) {
        page = new Booking[](pageLength(_bookingIds.length, start, count));
        for (uint256 i = 0; i < page.length; ++i) {
            page[i] = _bookings[_bookingIds[start + i]];
        }
    }

    /// @notice Return the account that receives settlement payments.
    function treasury() external view returns (address) {
        return _treasury;
    }

    // ---------------------------------------------------------------- internals

    function _cost(uint256 amount, uint256 price) private pure returns (uint256) {
        return Math.mulDiv(amount, price, 1e18, Math.Rounding.Ceil);
    }

    function _setTreasury(address newTreasury) private {
        if (newTreasury == address(0)) revert ZeroAddress();
        emit TreasuryUpdated(_treasury, newTreasury);
        _treasury = newTreasury;
    }
}

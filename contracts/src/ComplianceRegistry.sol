// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.30;

import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";

import {AdminRoles} from "./access/AdminRoles.sol";
import {IComplianceRegistry} from "./interfaces/IComplianceRegistry.sol";
import {pageLength} from "./utils/Paging.sol";

/// @title ComplianceRegistry
/// @notice Investor compliance records (KYC, QIB, jurisdiction, Reg S lockup end) and the
///         blocked-address list of the JINBI bond.
/// @dev Each investor's record fits in one storage slot, so onboarding a new investor
///      writes two new slots (the record and its entry in the enumeration) and updating
///      one rewrites one slot. Investors are never removed: revocation sets kyc to false.
///
///      Packed investor word of `setInvestors`, one uint256 per investor:
///        bits   0-159  investor address
///        bits 160-167  flags: bit 160 kyc, bit 161 qib, bits 162-167 must be zero
///        bits 168-183  jurisdiction: first letter in bits 176-183, second in 168-175
///        bits 184-247  lockupUntil (uint64, Unix seconds, 0 = no lockup)
///        bits 248-255  must be zero
contract ComplianceRegistry is AdminRoles, IComplianceRegistry {
    using EnumerableSet for EnumerableSet.AddressSet;

    /// @notice Role that sets investor records and blocks or unblocks addresses.
    bytes32 public constant COMPLIANCE_OFFICER_ROLE = keccak256("COMPLIANCE_OFFICER_ROLE");

    /// @notice One investor of a page of `investorsPage`.
    struct InvestorEntry {
        address investor;
        bool kyc;
        bool qib;
        bytes2 jurisdiction;
        uint64 lockupUntil;
        bool blocked;
    }

    // Bit positions of the packed investor word.
    uint256 private constant _KYC_BIT = 160;
    uint256 private constant _QIB_BIT = 161;
    uint256 private constant _RESERVED_FLAGS_SHIFT = 162;
    uint256 private constant _JURISDICTION_SHIFT = 168;
    uint256 private constant _LOCKUP_SHIFT = 184;
    uint256 private constant _RESERVED_HIGH_SHIFT = 248;

    // Bit shifts of the `Investor` fields inside its storage slot. The compiler packs
    // the fields in declaration order from the low-order end: registered in bits 0-7.
    uint256 private constant _SLOT_KYC_SHIFT = 8;
    uint256 private constant _SLOT_QIB_SHIFT = 16;
    uint256 private constant _SLOT_JURISDICTION_SHIFT = 24;
    uint256 private constant _SLOT_LOCKUP_SHIFT = 40;

    mapping(address account => Investor record) private _investors;
    address[] private _investorList;
    EnumerableSet.AddressSet private _blocked;

    /// @notice Emitted when an investor record is created or changed (not when a write
    ///         leaves it as it was).
    /// @param record The record as a packed investor word (format in the contract
    ///        documentation), one data word instead of four to keep batch updates cheap.
    event InvestorSet(address indexed investor, uint256 record);

    /// @notice Emitted when `account` is added to the blocked list.
    event AddressBlocked(address indexed account);

    /// @notice Emitted when `account` is removed from the blocked list.
    event AddressUnblocked(address indexed account);

    /// @notice `jurisdiction` is neither two uppercase ASCII letters nor 0x0000.
    error InvalidJurisdiction(address investor, bytes2 jurisdiction);

    /// @notice The packed word at `index` has a reserved bit set or a zero address.
    error InvalidInvestorWord(uint256 index, uint256 word);

    /// @param admin The first holder of DEFAULT_ADMIN_ROLE.
    constructor(address admin) AdminRoles(admin) {}

    // ---------------------------------------------------------------- writes

    /// @notice Create or update many investors, one packed word each (format in the
    ///         contract documentation). A word that matches the stored record is skipped
    ///         without an event.
    /// @dev Reverts with InvalidInvestorWord or InvalidJurisdiction on the first bad word,
    ///      so a batch is applied whole or not at all.
    function setInvestors(uint256[] calldata packed) external onlyRole(COMPLIANCE_OFFICER_ROLE) {
        uint256 length = packed.length;
        for (uint256 i = 0; i < length; ++i) {
            uint256 word = packed[i];
            if (
                uint160(word) == 0 || (word >> _RESERVED_FLAGS_SHIFT) & 0x3F != 0
                    || word >> _RESERVED_HIGH_SHIFT != 0
            ) {
                revert InvalidInvestorWord(i, word);
            }
            _setInvestor(word);
        }
    }

    /// @notice Create or update one investor. Same rules as `setInvestors`, unpacked.
    /// @param jurisdiction ISO 3166-1 alpha-2 code as two uppercase ASCII bytes, or 0x0000.
    /// @param lockupUntil Unix time in seconds at which the Reg S lockup ends; 0 for none.
    function setInvestor(address account, bool kyc, bool qib, bytes2 jurisdiction, uint64 lockupUntil)
        external
        onlyRole(COMPLIANCE_OFFICER_ROLE)
    {
        if (account == address(0)) revert ZeroAddress();
        uint256 word = uint256(uint160(account)) | (_toBit(kyc) << _KYC_BIT) | (_toBit(qib) << _QIB_BIT)
            | (uint256(uint16(jurisdiction)) << _JURISDICTION_SHIFT) | (uint256(lockupUntil) << _LOCKUP_SHIFT);
        _setInvestor(word);
    }

    /// @notice Add every address of `accounts` to the blocked list. An address that is
    ///         already blocked is skipped without an event.
    function blockAddresses(address[] calldata accounts) external onlyRole(COMPLIANCE_OFFICER_ROLE) {
        uint256 length = accounts.length;
        for (uint256 i = 0; i < length; ++i) {
            address account = accounts[i];
            if (account == address(0)) revert ZeroAddress();
            if (_blocked.add(account)) emit AddressBlocked(account);
        }
    }

    /// @notice Remove every address of `accounts` from the blocked list. An address that
    ///         is not blocked is skipped without an event.
    function unblockAddresses(address[] calldata accounts) external onlyRole(COMPLIANCE_OFFICER_ROLE) {
        uint256 length = accounts.length;
        for (uint256 i = 0; i < length; ++i) {
            address account = accounts[i];
            if (_blocked.remove(account)) emit AddressUnblocked(account);
        }
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IComplianceRegistry
    function investor(address account) external view returns (Investor memory) {
        return _investors[account];
    }

    /// @inheritdoc IComplianceRegistry
    function isBlocked(address account) external view returns (bool) {
        return _blocked.contains(account);
    }

    /// @notice Return the number of registered investors.
    function investorCount() external view returns (uint256) {
        return _investorList.length;
    }

    /// @notice Return up to `count` investors from index `start`, in registration order,
    ///         with their blocked status. The page is clipped at the end of the list.
    function investorsPage(uint256 start, uint256 count) external view returns (InvestorEntry[] memory page) {
        page = new InvestorEntry[](pageLength(_investorList.length, start, count));
        for (uint256 i = 0; i < page.length; ++i) {
            address account = _investorList[start + i];
            Investor storage record = _investors[account];
            page[i] = InvestorEntry({
                investor: account,
                kyc: record.kyc,
                qib: record.qib,
                jurisdiction: record.jurisdiction,
                lockupUntil: record.lockupUntil,
                blocked: _blocked.contains(account)
            });
        }
    }

    /// @notice Return the number of blocked addresses.
    function blockedCount() external view returns (uint256) {
        return _blocked.length();
    }

    /// @notice Return up to `count` blocked addresses from index `start`. The order is the
    ///         set's internal order, which changes when an address is unblocked.
    function blockedPage(uint256 start, uint256 count) external view returns (address[] memory page) {
        page = new address[](pageLength(_blocked.length(), start, count));
        for (uint256 i = 0; i < page.length; ++i) {
            page[i] = _blocked.at(start + i);
        }
    }

    // ---------------------------------------------------------------- internals

    /// @dev Stores the record of a validated packed word with one SLOAD and at most one
    ///      SSTORE. Field-by-field Solidity assignments cost about 600 gas more per
    ///      investor, which puts a batch update over 8,000 gas per investor. The contract
    ///      tests check this layout against the getters.
    function _setInvestor(uint256 word) private {
        address account = address(uint160(word));
        uint256 jurisdiction = (word >> _JURISDICTION_SHIFT) & 0xFFFF;
        if (!_isJurisdiction(jurisdiction)) revert InvalidJurisdiction(account, bytes2(uint16(jurisdiction)));

        uint256 encoded = 1 | (((word >> _KYC_BIT) & 1) << _SLOT_KYC_SHIFT)
            | (((word >> _QIB_BIT) & 1) << _SLOT_QIB_SHIFT) | (jurisdiction << _SLOT_JURISDICTION_SHIFT)
            | ((word >> _LOCKUP_SHIFT) << _SLOT_LOCKUP_SHIFT);

        Investor storage record = _investors[account];
        uint256 previous;
        assembly ("memory-safe") {
            previous := sload(record.slot)
        }
        if (previous == encoded) return;
        if (previous == 0) _investorList.push(account);
        assembly ("memory-safe") {
            sstore(record.slot, encoded)
        }
        emit InvestorSet(account, word);
    }

    function _toBit(bool value) private pure returns (uint256 bit) {
        assembly ("memory-safe") {
            bit := value
        }
    }

    /// @dev True for 0 (no jurisdiction) or two ASCII letters A-Z, first letter in the high byte.
    function _isJurisdiction(uint256 code) private pure returns (bool) {
        if (code == 0) return true;
        uint256 first = code >> 8;
        uint256 second = code & 0xFF;
        return first >= 0x41 && first <= 0x5A && second >= 0x41 && second <= 0x5A;
    }
}

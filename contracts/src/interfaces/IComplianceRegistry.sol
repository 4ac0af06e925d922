// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.30;

/// @title IComplianceRegistry
/// @notice Read surface of the investor registry that the compliance oracle uses.
interface IComplianceRegistry {
    /// @notice Compliance record of one investor, stored in one storage slot.
    /// @param registered True once the address was set through the registry; never cleared.
    /// @param kyc True while the investor's KYC is valid; revocation sets it to false.
    /// @param qib True if the investor is a qualified institutional buyer (Rule 144A).
    /// @param jurisdiction ISO 3166-1 alpha-2 code as two uppercase ASCII bytes ("US" is
    ///        0x5553), or 0x0000 for none.
    /// @param lockupUntil Unix time in seconds at which the investor's Reg S lockup ends;
    ///        0 for no lockup.
    struct Investor {
        bool registered;
        bool kyc;
        bool qib;
        bytes2 jurisdiction;
        uint64 lockupUntil;
    }

    /// @notice Return the compliance record of `account` (all fields zero if never registered).
    function investor(address account) external view returns (Investor memory);

    /// @notice Return true if `account` is on the blocked list.
    function isBlocked(address account) external view returns (bool);
}

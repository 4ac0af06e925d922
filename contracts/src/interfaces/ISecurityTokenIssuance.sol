// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.30;

/// @title ISecurityTokenIssuance
/// @notice The part of the security token that primary settlement calls.
interface ISecurityTokenIssuance {
    /// @notice Mint `amount` tokens of `partition` to `to` after a compliance check.
    function issue(bytes32 partition, address to, uint256 amount) external;

    /// @notice Return the compliance oracle the token checks transfers against.
    function oracle() external view returns (address);
}

// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.30;

/// @notice Return the number of items in the page that starts at index `start` and holds
///         at most `count` items of a collection of `total` items.
/// @dev A start at or past the end gives 0, and a page that runs past the end is clipped.
function pageLength(uint256 total, uint256 start, uint256 count) pure returns (uint256) {
    if (start >= total) return 0;
    uint256 remaining = total - start;
    return count < remaining ? count : remaining;
}

// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.30;

/// @notice Check that `id` holds a printable ASCII string (0x21 to 0x7E, no spaces),
///         left-aligned and padded with zero bytes, such as "ALLOC-0001".
/// @dev Booking ids and force-transfer order ids use this format so that a reader
///      recovers the original text from the bytes32 value.
function isAsciiId(bytes32 id) pure returns (bool) {
    uint256 length = 0;
    while (length < 32 && id[length] != 0) {
        bytes1 character = id[length];
        if (character < 0x21 || character > 0x7E) return false;
        ++length;
    }
    if (length == 0) return false;
    for (uint256 i = length; i < 32; ++i) {
        if (id[i] != 0) return false;
    }
    return true;
}

// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.30;

/// @title AggregatorV3Interface
/// @notice The read interface of Chainlink V3 price feeds, with the same function
///         signatures, so that a client written for a Chainlink feed reads the devnet mock.
interface AggregatorV3Interface {
    /// @notice Return the number of decimals of `answer`.
    function decimals() external view returns (uint8);

    /// @notice Return the feed's description, such as "XAU / USD".
    function description() external view returns (string memory);

    /// @notice Return the version of the aggregator.
    function version() external view returns (uint256);

    /// @notice Return the data of round `roundId`.
    function getRoundData(uint80 roundId)
        external
        view
        returns (uint80 roundId_, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound);

    /// @notice Return the data of the latest round.
    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound);
}

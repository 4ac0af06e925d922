// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

import {AggregatorV3Interface} from "../interfaces/AggregatorV3Interface.sol";

/// @title MockAggregatorV3
/// @notice Devnet price feed with the read interface of a Chainlink V3 aggregator and 8
///         decimals. Its owner publishes rounds with `setRoundData`.
contract MockAggregatorV3 is AggregatorV3Interface, Ownable {
    struct Round {
        int256 answer;
        uint256 updatedAt;
    }

    string private _description;
    uint80 private _latestRoundId;
    mapping(uint80 roundId => Round) private _rounds;

    /// @notice Emitted when the owner publishes round `roundId`.
    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);

    /// @notice Round `roundId` was never published (0 before the first round).
    error RoundNotFound(uint80 roundId);

    /// @param owner_ The account allowed to publish rounds.
    /// @param description_ The feed's description, such as "XAU / USD".
    constructor(address owner_, string memory description_) Ownable(owner_) {
        _description = description_;
    }

    /// @notice Publish a new round with `answer` (8 decimals) updated at `updatedAt`
    ///         (Unix seconds, also used as the round's start). Owner only.
    function setRoundData(int256 answer, uint256 updatedAt) external onlyOwner {
        uint80 roundId = _latestRoundId + 1;
        _latestRoundId = roundId;
        _rounds[roundId] = Round({answer: answer, updatedAt: updatedAt});
        emit AnswerUpdated(answer, roundId, updatedAt);
    }

    /// @inheritdoc AggregatorV3Interface
    function decimals() external pure returns (uint8) {
        return 8;
    }

    /// @inheritdoc AggregatorV3Interface
    function description() external view returns (string memory) {
        return _description;
    }

    /// @inheritdoc AggregatorV3Interface
    function version() external pure returns (uint256) {
        return 4;
    }

    /// @inheritdoc AggregatorV3Interface
    function getRoundData(uint80 roundId) public view returns (uint80, int256, uint256, uint256, uint80) {
        if (roundId == 0 || roundId > _latestRoundId) revert RoundNotFound(roundId);
        Round storage round = _rounds[roundId];
        return (roundId, round.answer, round.updatedAt, round.updatedAt, roundId);
    }

    /// @inheritdoc AggregatorV3Interface
    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80) {
        return getRoundData(_latestRoundId);
    }
}

"""Find blocks by time: the block that was the chain's head at a Unix timestamp.

Block timestamps never decrease along a chain, so a search over block numbers
finds the last block at or before a time, or the first at or after it. Each
step reads one block header. A step takes the block that the timestamps of
the two bounds predict, on the assumption of a regular block time, and every
second step takes the middle instead. Where the block time is steady this
takes fewer reads than bisection (the tests hold a search over 600 regular
blocks to 8 reads), and on any chain it reads at most about 2 x log2(blocks)
headers.

Callers: `jinbi check` (the start of its activity window), the coupon
statements and the month-end report.
"""

from __future__ import annotations

import logging
from typing import Literal

import requests
from web3 import Web3
from web3.exceptions import Web3Exception

from reconciler.chain.reader import RETRY_HINT
from reconciler.chain.rpc import error_text
from reconciler.desired.values import format_datetime
from reconciler.errors import ChainError

log = logging.getLogger(__name__)


class _Headers:
    """Block timestamps read through W3, each block read at most once."""

    def __init__(self, w3: Web3) -> None:
        self.w3 = w3
        self.timestamps: dict[int, int] = {}

    def latest(self) -> int:
        """Read the latest block and return its number."""
        return self._read("latest")

    def timestamp(self, number: int) -> int:
        if number not in self.timestamps:
            self._read(number)
        return self.timestamps[number]

    def _read(self, identifier: int | Literal["latest"]) -> int:
        try:
            block = self.w3.eth.get_block(identifier)
        except (requests.RequestException, Web3Exception, OSError, ValueError) as error:
            raise ChainError(f"reading block {identifier} failed: {error_text(self.w3, error)}", hint=RETRY_HINT) from error
        number = int(block["number"])
        self.timestamps[number] = int(block["timestamp"])
        return number


def _last_at_or_before(headers: _Headers, timestamp: int, low: int, high: int) -> int | None:
    """Return the last block in [LOW, HIGH] whose timestamp is <= TIMESTAMP, or None if there is none."""
    if headers.timestamp(low) > timestamp:
        return None
    if headers.timestamp(high) <= timestamp:
        return high

    # Invariant: timestamp(low) <= TIMESTAMP < timestamp(high).
    step = 0
    while high - low > 1:
        low_time, high_time = headers.timestamp(low), headers.timestamp(high)
        if step % 2 == 0 and high_time > low_time:
            guess = low + (timestamp - low_time) * (high - low) // (high_time - low_time)
        else:
            guess = (low + high) // 2
        probe = min(max(guess, low + 1), high - 1)
        if headers.timestamp(probe) <= timestamp:
            low = probe
        else:
            high = probe
        step += 1
    return low


def block_at_or_before(w3: Web3, timestamp: int, *, latest: int | None = None) -> tuple[int, int]:
    """Return the number and timestamp of the last block whose timestamp is <= TIMESTAMP (Unix seconds).

    LATEST bounds the search (the latest block when None), so that a caller
    pinned to a block gets the same result as the chain grows. Raises
    ChainError when even block 0 is newer than TIMESTAMP, or a read fails.
    """
    headers = _Headers(w3)
    high = headers.latest() if latest is None else latest
    found = _last_at_or_before(headers, timestamp, 0, high)
    if found is None:
        raise ChainError(
            f"no block is at or before {format_datetime(timestamp)}: the chain's first block (block 0) is at "
            f"{format_datetime(headers.timestamp(0))}",
            hint="ask for a time after the chain's first block",
        )
    log.debug("block %s (timestamp %s) is the last at or before %s", found, headers.timestamp(found), timestamp)
    return found, headers.timestamp(found)


def block_timestamp(w3: Web3, number: int) -> int:
    """Return the timestamp of block NUMBER in Unix seconds, raising ChainError when the read fails."""
    return _Headers(w3).timestamp(number)


def first_block_at_or_after(w3: Web3, timestamp: int, *, latest: int | None = None) -> int:
    """Return the number of the first block whose timestamp is >= TIMESTAMP (Unix seconds).

    LATEST bounds the search (the latest block when None). When every block up
    to LATEST is older than TIMESTAMP, the result is LATEST + 1, the next block
    to be mined, so that the range from it to LATEST is empty. Raises ChainError
    when a read fails.
    """
    headers = _Headers(w3)
    high = headers.latest() if latest is None else latest
    found = _last_at_or_before(headers, timestamp - 1, 0, high)
    first = 0 if found is None else found + 1
    log.debug("block %s is the first at or after %s (searched up to block %s)", first, timestamp, high)
    return first

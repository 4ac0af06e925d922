"""The devnet stand-ins: moving the clock and parsing the dates it takes."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.devnet_ops import parse_moment, warp
from reconciler.errors import DevnetError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("2026-12-31", 1_798_675_200),
        ("2026-12-31T00:00:00Z", 1_798_675_200),
        ("2026-12-31T06:30:00+00:00", 1_798_698_600),
    ],
    ids=["date", "utc-z", "utc-offset"],
)
def test_parse_moment_accepts_utc(text: str, seconds: int) -> None:
    assert parse_moment(text) == seconds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-12-31T00:00:00+01:00", "invalid date '2026-12-31T00:00:00+01:00': the time must be UTC"),
        ("2026-12-31T00:00:00", "invalid date '2026-12-31T00:00:00': the time must be UTC"),
        ("31/12/2026", "invalid date '31/12/2026'"),
    ],
    ids=["other-offset", "no-offset", "not-iso"],
)
def test_parse_moment_rejects(text: str, message: str) -> None:
    with pytest.raises(DevnetError) as raised:
        parse_moment(text)

    assert raised.value.message == message


def test_warp_moves_clock_forward(chain: Any) -> None:
    target = chain.w3.eth.get_block("latest")["timestamp"] + 86_400

    message = warp(chain.local.port, target)

    assert message.startswith("moved the devnet clock to ")
    assert chain.w3.eth.get_block("latest")["timestamp"] == target


def test_warp_backwards_is_no_op(chain: Any) -> None:
    block = chain.w3.eth.get_block("latest")

    message = warp(chain.local.port, block["timestamp"] - 86_400)

    assert message.endswith("; nothing to do")
    assert chain.w3.eth.block_number == block["number"]

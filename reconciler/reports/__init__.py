"""Read-only reports built from the chain at a past block: coupon statements and the month-end reconciliation.

`coupons` computes each holder's share of a coupon cycle from the balances at
the record date, `month_end` compares a month's closing balances with the
settled allocations of the YAML, and `holdings` reads every holder's balances
at one block for both. Callers: `jinbi report coupons` and `jinbi report month-end`.
"""

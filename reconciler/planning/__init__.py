"""Planning: the desired state x the observed chain -> changes -> actions -> ordered, batched transactions.

`diff.diff` compares the two states, `plan.build_plan` turns the differences
into a checked `Plan`, and the renderers write it for a terminal
(`render_text`), a pull-request comment (`render_markdown`) and the plan file
(`plan.plan_json`). Only `run` and `simulate` read the chain; every other
module is pure. This package imports nothing on its own, so that commands
which never plan do not load web3.
"""

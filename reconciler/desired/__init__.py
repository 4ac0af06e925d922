"""The desired state: YAML under state/<env>/ read into the model.

`read_state` loads and checks everything and returns the findings.
`load_state` returns a valid `DesiredState` or raises `DesiredStateError`.
`dump_state` writes the model back in the committed format.
"""

from reconciler.desired.diagnostics import Diagnostic, SourcePosition
from reconciler.desired.dump import dump_state
from reconciler.desired.state import DesiredState, ReadResult, load_state, read_environment, read_state

__all__ = [
    "DesiredState",
    "Diagnostic",
    "ReadResult",
    "SourcePosition",
    "dump_state",
    "load_state",
    "read_environment",
    "read_state",
]

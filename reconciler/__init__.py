"""Declarative GitOps reconciler for the JINBI tokenized bond."""

from pathlib import Path

__version__ = "0.1.0"

# The repository root. The package runs from an editable install in the
# repository, next to contracts/, schemas/ and node_modules/.
PROJECT_ROOT = Path(__file__).resolve().parent.parent

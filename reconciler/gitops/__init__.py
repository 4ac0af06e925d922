"""Git around the reconciler: plan provenance, blame, the audit trail in git notes, and drift.

`metadata` and `blame` only read the repository that contains the state
folder. `audit` writes and reads the notes under `refs/notes/jinbi-audit`,
and `drift` compares the chain with the YAML at HEAD. The modules import
gitpython inside their functions, so importing them does not load it.
"""

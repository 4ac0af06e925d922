"""Chain access: compiled artifacts, deployment, reads and transactions."""

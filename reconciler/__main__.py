"""Allow `python -m reconciler` as a synonym of the `jinbi` command."""

from reconciler.cli import main

main()

"""``python -m symtheory`` runs the command line."""

from symtheory.cli.app import run

run()

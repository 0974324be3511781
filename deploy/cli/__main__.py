"""`python -m deploy.cli` runs the `credstream` command line."""

from deploy.cli.main import run

run()

"""Allow ``python -m dkgen``."""

from dkgen.cli import run

run()

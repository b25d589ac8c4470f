"""Allow ``python -m dkgen``."""

from dkgen.entry import run

run()

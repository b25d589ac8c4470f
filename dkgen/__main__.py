"""Allow ``python -m dkgen``."""

from dkgen.cli import main

main()

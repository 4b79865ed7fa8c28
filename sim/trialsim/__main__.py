"""``python -m trialsim``."""

from trialsim.cli.console import main

main()

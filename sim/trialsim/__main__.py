"""``python -m trialsim``."""

from trialsim.console import main

main()

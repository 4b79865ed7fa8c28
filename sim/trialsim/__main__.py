"""``python -m trialsim``."""

from trialsim.cli import main

main()

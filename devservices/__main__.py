"""``python -m devservices``."""

from devservices.cli import main

main()

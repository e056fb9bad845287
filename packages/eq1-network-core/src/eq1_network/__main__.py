"""``python -m eq1_network``: the command line."""

from eq1_network.cli import main

raise SystemExit(main())

"""Sub-commands of the ``eq1-network`` command line that work on any endpoint URL."""

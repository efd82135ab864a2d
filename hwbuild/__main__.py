"""``python -m hwbuild``: the same command line as the ``hwbuild`` script."""

from hwbuild.cli import entry

entry()

#!/usr/bin/env python3
"""Build this repository's homework: the same as `hwbuild` (see `hwbuild --help` and README.md)."""

from hwbuild.cli import main

if __name__ == "__main__":
    main(prog_name="build.py")

#!/usr/bin/env python3
"""Build this repository's homework: the same as `hwbuild` (see `hwbuild --help` and README.md)."""

if __name__ == "__main__":
    # Imported here, not above: a worker process re-imports this file as its main module.
    from hwbuild.__main__ import main

    main(prog_name="build.py")

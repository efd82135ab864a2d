#!/usr/bin/env python3
"""Build the homework PDF. See `python build.py --help` and README.md."""

from hwbuild.cli import main

if __name__ == "__main__":
    main(prog_name="build.py")

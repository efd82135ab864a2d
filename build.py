#!/usr/bin/env python3
"""Build this repository's homework: the same as `hwbuild` (see `hwbuild --help` and README.md)."""

if __name__ == "__main__":
    if __spec__ is not None and __spec__.name == "build":
        # `python -m build` here found this file before PyPA's build: hand over to that one.
        import os
        import runpy
        import sys

        here = os.path.dirname(os.path.abspath(__file__))
        sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
        runpy.run_module("build", run_name="__main__", alter_sys=True)
        raise SystemExit(0)
    # Imported here, not above: a worker process re-imports this file as its main module.
    from hwbuild.__main__ import main

    main(prog_name="build.py")

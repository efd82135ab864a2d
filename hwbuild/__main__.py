"""``python -m hwbuild`` and the ``hwbuild`` script: the command line of
:mod:`hwbuild.cli.commands`.

It is imported here, inside a guard: a Ctrl-C in the first milliseconds, while click and hwbuild
load, ends the command with one line and exit 130, not a Python traceback.
"""

import sys


def main(prog_name: str = "hwbuild") -> None:
    try:
        from hwbuild.cli.commands import main as command
    except KeyboardInterrupt:
        print("interrupted: nothing was done", file=sys.stderr)
        raise SystemExit(130) from None
    command(prog_name=prog_name)


if __name__ == "__main__":
    main()

"""``make test`` timed, its commands one after another, and its slowest tests."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field

from benchlib.homework import STAMP, TIMEOUT, Row, without_make
from benchlib.measure import (
    REPO,
    BenchError,
    measure,
)

# -- make test -----------------------------------------------------------------------------------


@dataclass
class TestCommand:
    command: str
    seconds: float
    returncode: int
    said: str
    slowest: list[tuple[float, str]] = field(default_factory=list)  # pytest's --durations


# What make test passes pytest (its ARGS): the slowest tests' durations, for the report.
TEST_ARGS = "--durations=10"
DURATION = re.compile(r"(?m)^([0-9.]+)s (call|setup|teardown) +(\S+)$")


def slowest_tests(output: str) -> list[tuple[float, str]]:
    """pytest's ``--durations`` lines: (seconds, "phase test id"), slowest first."""
    return sorted(((float(m.group(1)), f"{m.group(3)} ({m.group(2)})")
                   for m in DURATION.finditer(output)), reverse=True)


def test_commands(env: dict[str, str]) -> list[str]:
    """The commands ``make test`` runs, in order (``make -n``; the venv counts as installed)."""
    out = subprocess.run(["make", "-n", "--no-print-directory", "-C", str(REPO), "-o", STAMP,
                          "test", f"ARGS={TEST_ARGS}"], cwd=REPO, env=env, capture_output=True,
                         text=True, check=False, timeout=60)
    if out.returncode != 0:
        raise BenchError(f"make -n test failed: {out.stderr.strip()}")
    return [line.strip() for line in out.stdout.splitlines() if line.strip()]


SAID = (re.compile(r"(?m)^=* ?(\d+ (?:passed|failed).*?) ?=*$"),  # pytest's last line
        re.compile(r"(?m)^(Success: .*|Found \d+ errors? .*)$"),  # mypy
        re.compile(r"(?m)^(All checks passed!|Found \d+ errors?\.?)$"),  # ruff
        re.compile(r"(?m)^(TeX is ready.*)$"))


def what_it_said(output: str) -> str:
    for pattern in SAID:
        found = pattern.findall(output)
        if found:
            return str(found[-1]).strip()
    lines = output.strip().splitlines()
    return lines[-1].strip() if lines else ""


def time_make_test(log: Callable[[str], None]) -> list[TestCommand]:
    """``make test``'s commands, each timed, one after another as make runs them (and each
    even if one before failed, so that every part gets its time), in the environment as it is
    (PYTHONDONTWRITEBYTECODE included): the venv and caches as a developer has them."""
    env = without_make(dict(os.environ))
    done = []
    for command in test_commands(env):
        log(f"make test: {command}")
        result = measure(["sh", "-c", command], cwd=REPO, env=env, what=command,
                         timeout=TIMEOUT, check=False)
        done.append(TestCommand(command.replace(str(REPO) + "/", ""), result.seconds,
                                result.returncode, what_it_said(result.output),
                                slowest_tests(result.output)))
    return done


def test_row(commands: list[TestCommand]) -> Row:
    row = Row("test", "`make test` from a warm venv (its commands, one after another)",
              baseline_is="—", absolute=True)
    row.hwbuild.append(sum(c.seconds for c in commands))
    for item in commands:
        row.add_stage(item.command.split(" -m ")[-1].split()[0] if " -m " in item.command
                      else item.command.split()[0], item.seconds)
    return row



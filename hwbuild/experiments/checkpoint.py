"""Checkpoints: a long experiment saves its state now and then, and a later build resumes from it.

``ck = ctx.checkpoint("train")``; ``ck.load()`` gives the last saved state or None;
``ck.save(state)`` saves anything ``torch.save`` accepts (``pickle`` without torch). A
checkpoint belongs to the inputs it was made with: it holds the settings digest of its
experiment (code, seed, device, library versions, engine) and the hash of every file the
experiment had read when it saved, and :meth:`Checkpoint.load` discards it when any of them
changed. A resumed run adopts those inputs as
its own, so that its stamp covers what the state was computed from.

Checkpoints are the one thing a worker writes itself, into ``build/checkpoints/problem<id>/``,
with an atomic rename. Sending the state to the coordinator instead would hold a model's weights
twice in memory and cross the network on Dask, and a checkpoint must survive the coordinator's
death (a killed machine, SIGKILL): it is the point. Nothing a build trusts is at risk: ``build/``
is the engine's own folder, a half-written checkpoint is a temporary file the next build
removes, and a checkpoint is checked against its inputs before it is used. The coordinator
removes an experiment's checkpoints once its result is recorded.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hwbuild.fsutil import TEMP_PREFIX

FOLDER = "checkpoints"  # under build/
SUFFIX = ".ckpt"
Inputs = Callable[[], dict[str, str]]


def folder(build_dir: Path, problem_id: str) -> Path:
    return build_dir / FOLDER / f"problem{problem_id}"


def remove(build_dir: Path, problem_id: str | None = None) -> list[Path]:
    """Delete one problem's checkpoints (every problem's without ``problem_id``)."""
    target = build_dir / FOLDER if problem_id is None else folder(build_dir, problem_id)
    if not target.exists():
        return []
    shutil.rmtree(target, ignore_errors=True)
    return [target]


class Checkpoint:
    """One named checkpoint of a running experiment (see the module docstring)."""

    def __init__(self, path: Path | None, name: str, settings: str, inputs: Inputs,
                 current: Callable[[str], str | None], adopt: Callable[[dict[str, str]], None],
                 say: Callable[[str], None]) -> None:
        self.path, self.name, self._settings = path, name, settings
        self._inputs, self._current, self._adopt, self._say = inputs, current, adopt, say

    def load(self) -> Any:
        """The state last saved, or None: none saved, or its inputs changed since (then it is
        deleted)."""
        if self.path is None or not self.path.exists():
            return None
        payload = _read(self.path)
        meta = payload.get("hwbuild") if isinstance(payload, dict) else None
        inputs = meta.get("inputs") if isinstance(meta, dict) else None
        if (not isinstance(meta, dict) or meta.get("settings") != self._settings
                or not isinstance(inputs, dict)
                or any(not digest or self._current(key) != digest
                       for key, digest in inputs.items())):
            self.path.unlink(missing_ok=True)
            return None
        self._adopt(inputs)
        self._say(f"resumed from checkpoint '{self.name}'")
        return payload["state"]

    def save(self, state: Any) -> None:
        """Save ``state`` atomically: a crash mid-save leaves the previous checkpoint."""
        if self.path is None:
            return
        payload = {"hwbuild": {"settings": self._settings, "inputs": self._inputs()},
                   "state": state}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f"{TEMP_PREFIX}{self.name}-{os.getpid()}")
        try:
            _write(tmp, payload)
            os.replace(tmp, self.path)
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()


def _write(path: Path, payload: Any) -> None:
    with open(path, "wb") as handle:
        try:
            import torch
        except ImportError:
            import pickle

            pickle.dump(payload, handle, protocol=pickle.HIGHEST_PROTOCOL)
        else:
            torch.save(payload, handle)
        handle.flush()
        os.fsync(handle.fileno())


def _read(path: Path) -> Any:
    """The payload in ``path``; None if it cannot be read (a miss, never an error)."""
    try:
        import torch
    except ImportError:
        import pickle

        try:
            with open(path, "rb") as handle:
                return pickle.load(handle)
        except Exception:
            return None
    try:
        # Our own file, holding the experiment's objects (RNG states, numpy arrays).
        return torch.load(path, weights_only=False)
    except Exception:
        return None

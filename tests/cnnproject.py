"""A small deep-learning project: a tiny CNN trained on synthetic images read from files.

Its experiment reads ``data/images/*.npy`` through ``DataLoader(num_workers=2)``, shows its
progress with ``ctx.progress`` and saves a checkpoint after every epoch, resuming from it. It runs
in a few seconds on two cores. Right after the checkpoint of epoch N, ``CNN_KILL_AFTER=N`` kills
the experiment's process (as a killed machine would) and ``CNN_FAIL_AFTER=N`` raises.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

SOLUTION = '''\
import os
import signal

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

EPOCHS = 4


class Images(Dataset):
    """data/images/<label>-<n>.npy: one 8x8 image per file."""

    def __init__(self):
        self.names = sorted(os.listdir("data/images"))

    def __len__(self):
        return len(self.names)

    def __getitem__(self, i):
        name = self.names[i]
        image = torch.from_numpy(np.load(os.path.join("data/images", name)))
        return image.unsqueeze(0), int(name.split("-")[0])


def run(ctx):
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loader = DataLoader(Images(), batch_size=8, shuffle=True, num_workers=2)
    checkpoint = ctx.checkpoint("train")
    state = checkpoint.load()
    losses, start = [], 0
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"])
        losses, start = state["losses"], state["epoch"]
    for epoch in ctx.progress(range(start, EPOCHS), total=EPOCHS - start, desc="train"):
        for images, labels in loader:
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(images), labels)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        print(f"epoch {epoch + 1}: loss {losses[-1]:.4f}")
        checkpoint.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                         "rng": torch.get_rng_state(), "losses": losses, "epoch": epoch + 1})
        if os.environ.get("CNN_KILL_AFTER") == str(epoch + 1):
            os.kill(os.getpid(), signal.SIGKILL)
        if os.environ.get("CNN_FAIL_AFTER") == str(epoch + 1):
            raise RuntimeError(f"stopped after epoch {epoch + 1}")
    with torch.no_grad():
        images = torch.stack([image for image, _ in Images()])
        labels = torch.tensor([label for _, label in Images()])
        accuracy = (model(images).argmax(1) == labels).float().mean()
    return {"losses": losses, "accuracy": accuracy, "images": len(labels)}
'''

TEMPLATE = """\
After << losses | length >> steps the last loss is << losses[-1] | round(4) >> and the
accuracy on the << images >> training images is << accuracy | round(3) >>.
"""

CONFIG = """\
[document]
title = "Tiny CNN"
author = "A. Student"
date = "1 January 2026"
seed = 0

[[problems]]
id = "1"
title = "A tiny CNN"
"""


def write_images(root: Path, count: int = 32) -> None:
    """Synthetic 8x8 images: label 1 has a bright square in its upper half, label 0 below."""
    rng = np.random.default_rng(0)
    folder = root / "data" / "images"
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        label = n % 2
        image = rng.normal(0.0, 0.3, size=(8, 8)).astype(np.float32)
        row = 1 if label else 5
        image[row:row + 2, 3:5] += 2.0
        np.save(folder / f"{label}-{n:03d}.npy", image)


def make_cnn_project(root: Path) -> Path:
    (root / "solutions").mkdir(parents=True)
    (root / "templates").mkdir()
    (root / "figures").mkdir()
    (root / "solutions" / "__init__.py").write_text("")
    (root / "solutions" / "problem1.py").write_text(SOLUTION)
    (root / "templates" / "problem1.tex.j2").write_text(textwrap.dedent(TEMPLATE))
    (root / "hwbuild.toml").write_text(CONFIG)
    write_images(root)
    return root

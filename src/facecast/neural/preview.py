"""Preview grids written during training: inputs, reconstructions and swaps side by side."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from facecast.media import write_image
from facecast.neural.data import IdentityData, plain_batch
from facecast.neural.model import CombModel


def preview_indices(data: IdentityData, count: int = 4) -> np.ndarray:
    """``int64 (k,)`` evenly spaced face indices shown in every preview (k <= `count`)."""
    return np.unique(np.linspace(0, len(data) - 1, num=min(count, len(data))).round().astype(int))


@torch.no_grad()
def preview_grid(model: CombModel, data: list[IdentityData], count: int = 4) -> np.ndarray:
    """Render the preview grid.

    Each row is one face: the input, then its decoding by every identity's decoder (its own
    decoder gives the reconstruction, the others the swaps), in ``config.identities`` order.

    Parameters
    ----------
    model
        The model, in any mode (evaluated without gradients; its mode is restored).
    data
        Per identity, in ``model.config.identities`` order.
    count
        Faces per identity.

    Returns
    -------
    ndarray
        ``uint8 (rows * R, (1 + identities) * R, 3)`` RGB.
    """
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    rows = []
    for identity in data:
        faces = torch.from_numpy(plain_batch(identity, preview_indices(identity, count)).inputs)
        faces = faces.to(device)
        columns = [faces] + [model.swap(faces, name)[0] for name in model.config.identities]
        rows.extend(torch.cat(columns, dim=3))
    model.train(was_training)
    image = torch.cat(rows, dim=1).permute(1, 2, 0).cpu().numpy()
    return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)


def write_preview(model: CombModel, data: list[IdentityData], path: Path, count: int = 4) -> Path:
    """Render `preview_grid` and write it as a PNG at `path` (folders created, atomic)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.stem}.partial{path.suffix}")
    write_image(temp, preview_grid(model, data, count))
    temp.replace(path)
    return path

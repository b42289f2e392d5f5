"""The face model: one shared encoder and bottleneck, one decoder per identity (a "comb" network).

This is the layout of DeepFaceLab's SAEHD "DF" model and of Disney's comb network: every identity
is encoded into the same latent space, and each decoder learns to draw one identity from it. A
swap encodes the actor's face and decodes it with the character's decoder, so the character's
face appears with the actor's pose, expression and lighting. Each decoder predicts the face
(RGB) and a face mask.

References
----------
.. [1] I. Perov et al., "DeepFaceLab: Integrated, flexible and extensible face-swapping
       framework", arXiv:2005.05535, 2020.
.. [2] J. Naruniec et al., "High-Resolution Neural Face Swapping for Visual Effects",
       Eurographics Symposium on Rendering, 2020.
"""

from __future__ import annotations

import torch
from torch import nn

from facecast.neural.config import ModelConfig


def _act() -> nn.Module:
    return nn.LeakyReLU(0.1)


class Upscale(nn.Sequential):
    """Double the spatial size: 3x3 conv to ``4 * out`` channels, then pixel shuffle.

    The convolution is initialised with ICNR (each group of 4 sub-pixel filters starts equal),
    so the untrained layer upsamples like nearest-neighbour instead of drawing a checkerboard.

    References
    ----------
    .. [1] A. Aitken et al., "Checkerboard artifact free sub-pixel convolution",
           arXiv:1707.02937, 2017.
    """

    def __init__(self, in_ch: int, out_ch: int) -> None:
        conv = nn.Conv2d(in_ch, out_ch * 4, 3, padding=1)
        with torch.no_grad():
            base = torch.empty(out_ch, in_ch, 3, 3)
            nn.init.kaiming_uniform_(base, a=5**0.5)
            conv.weight.copy_(base.repeat_interleave(4, dim=0))
        super().__init__(conv, _act(), nn.PixelShuffle(2))


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with a skip connection (same channels and size)."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(ch, ch, 3, padding=1)
        self.conv2 = nn.Conv2d(ch, ch, 3, padding=1)
        self.act = _act()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.conv2(self.act(self.conv1(x))))


class Encoder(nn.Module):
    """Stride-2 5x5 convolutions: ``(B, 3, R, R)`` -> ``(B, C, b, b)``, b the bottleneck side."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_ch = 3
        for stage in range(config.encoder_stages):
            out_ch = config.encoder_dims * min(2**stage, 8)
            layers += [nn.Conv2d(in_ch, out_ch, 5, stride=2, padding=2), _act()]
            in_ch = out_ch
        self.layers = nn.Sequential(*layers)
        self.out_channels = in_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x * 2.0 - 1.0)


class Inter(nn.Module):
    """Dense bottleneck shared by all identities: ``(B, C, b, b)`` -> ``(B, ae, 2b, 2b)``."""

    def __init__(self, config: ModelConfig, in_channels: int) -> None:
        super().__init__()
        side = config.bottleneck_resolution
        self.side, self.ae_dims = side, config.ae_dims
        self.dense1 = nn.Linear(in_channels * side * side, config.ae_dims)
        self.dense2 = nn.Linear(config.ae_dims, config.ae_dims * side * side)
        self.upscale = Upscale(config.ae_dims, config.ae_dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        code = self.dense2(self.dense1(torch.flatten(x, 1)))
        return self.upscale(code.view(-1, self.ae_dims, self.side, self.side))


class Decoder(nn.Module):
    """One identity's decoder: ``(B, ae, 2b, 2b)`` -> face ``(B, 3, R, R)``, mask ``(B, 1, R, R)``.

    Both outputs pass through a sigmoid, so they lie in [0, 1].
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        stages = config.encoder_stages - 1
        blocks: list[nn.Module] = []
        in_ch = config.ae_dims
        for stage in range(stages):
            out_ch = config.decoder_dims * min(2 ** (stages - 1 - stage), 8)
            blocks += [Upscale(in_ch, out_ch), ResidualBlock(out_ch)]
            in_ch = out_ch
        self.blocks = nn.Sequential(*blocks)
        self.to_rgb = nn.Conv2d(in_ch, 3, 3, padding=1)
        self.to_mask = nn.Conv2d(in_ch, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.blocks(x)
        return torch.sigmoid(self.to_rgb(features)), torch.sigmoid(self.to_mask(features))


class CombModel(nn.Module):
    """Shared encoder + bottleneck and one `Decoder` per identity named in ``config.identities``.

    Parameters
    ----------
    config
        Network shape; ``config.resolution`` is the side of every input and output.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.inter = Inter(config, self.encoder.out_channels)
        self.decoders = nn.ModuleDict({name: Decoder(config) for name in config.identities})

    def forward(self, faces: list[torch.Tensor]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Reconstruct each identity's faces with its own decoder (the training pass).

        Parameters
        ----------
        faces
            One ``float32 (B_i, 3, R, R)`` batch in [0, 1] per identity, in ``config.identities``
            order.

        Returns
        -------
        list of (rgb, mask)
            Per identity: ``(B_i, 3, R, R)`` and ``(B_i, 1, R, R)``, both in [0, 1].
        """
        if len(faces) != len(self.config.identities):
            raise ValueError(f"expected {len(self.config.identities)} batches, got {len(faces)}")
        sizes = [batch.shape[0] for batch in faces]
        codes = self.inter(self.encoder(torch.cat(faces)))
        return [
            self.decoders[name](code)
            for name, code in zip(self.config.identities, torch.split(codes, sizes), strict=True)
        ]

    def swap(self, faces: torch.Tensor, identity: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw `identity` with the pose and expression of `faces`.

        Parameters
        ----------
        faces
            ``float32 (B, 3, R, R)`` aligned crops in [0, 1].
        identity
            One of ``config.identities``.

        Returns
        -------
        rgb, mask
            ``(B, 3, R, R)`` and ``(B, 1, R, R)`` in [0, 1].
        """
        return self.decoders[identity](self.inter(self.encoder(faces)))

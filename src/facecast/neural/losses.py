"""Training losses: masked L1 and SSIM, a mask term, a Laplacian-pyramid perceptual term.

All functions take ``float32`` tensors in [0, 1]: images ``(B, 3, R, R)``, masks and weight maps
``(B, 1, R, R)``. Nothing here needs trained weights, so nothing is downloaded.

References
----------
.. [1] Z. Wang et al., "Image quality assessment: from error visibility to structural
       similarity", IEEE TIP 13(4), 2004.
.. [2] P. Bojanowski et al., "Optimizing the Latent Space of Generative Networks", ICML 2018
       (the Laplacian pyramid L1 loss as a perceptual proxy).
"""

from __future__ import annotations

import torch
import torch.nn.functional as nnf

from facecast.neural.config import LossConfig

_EPS = 1e-6


def _gaussian_window(size: int, sigma: float, channels: int, like: torch.Tensor) -> torch.Tensor:
    """Depthwise ``(channels, 1, size, size)`` normalised Gaussian kernel."""
    coords = torch.arange(size, dtype=like.dtype, device=like.device) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(channels, 1, size, size).contiguous()


def ssim_map(
    x: torch.Tensor, y: torch.Tensor, window: int = 11, sigma: float = 1.5
) -> torch.Tensor:
    """Per-pixel SSIM of two ``(B, C, H, W)`` images in [0, 1], averaged over channels.

    Returns
    -------
    torch.Tensor
        ``(B, 1, H, W)`` in [-1, 1] (1 where the images agree); reflect padding keeps the size.
    """
    channels = x.shape[1]
    window = min(window, x.shape[-1] - (1 - x.shape[-1] % 2))
    kernel = _gaussian_window(window, sigma, channels, x)
    pad = window // 2

    def blur(t: torch.Tensor) -> torch.Tensor:
        return nnf.conv2d(nnf.pad(t, (pad,) * 4, mode="reflect"), kernel, groups=channels)

    c1, c2 = 0.01**2, 0.03**2
    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    ssim = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
        (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
    )
    return ssim.mean(dim=1, keepdim=True)


def laplacian_pyramid_l1(x: torch.Tensor, y: torch.Tensor, levels: int = 4) -> torch.Tensor:
    """Mean L1 distance between the Laplacian pyramids of ``(B, C, H, W)`` images.

    Coarser levels get larger weights (``2 ** level``), so shape and shading count as much as
    fine detail. Used as a perceptual term that needs no pretrained network.
    """
    levels = max(1, min(levels, int(torch.tensor(x.shape[-1]).log2().item()) - 2))
    total = x.new_zeros(())
    for level in range(levels):
        x_low = nnf.avg_pool2d(x, 2)
        y_low = nnf.avg_pool2d(y, 2)
        x_band = x - nnf.interpolate(x_low, scale_factor=2, mode="bilinear", align_corners=False)
        y_band = y - nnf.interpolate(y_low, scale_factor=2, mode="bilinear", align_corners=False)
        total = total + (2**level) * (x_band - y_band).abs().mean()
        x, y = x_low, y_low
    total = total + (2**levels) * (x - y).abs().mean()
    return total / (2 ** (levels + 1) - 1)


def pixel_weights(mask: torch.Tensor, emphasis: torch.Tensor, eyes_mouth: float) -> torch.Tensor:
    """Loss weight per pixel: the face mask, raised to ``1 + eyes_mouth`` inside eyes and mouth.

    Parameters
    ----------
    mask, emphasis
        ``(B, 1, R, R)`` in [0, 1]: the target face mask and the eyes/mouth region.
    """
    return mask * (1.0 + eyes_mouth * emphasis)


def reconstruction_loss(
    pred_rgb: torch.Tensor,
    pred_mask: torch.Tensor,
    target_rgb: torch.Tensor,
    target_mask: torch.Tensor,
    emphasis: torch.Tensor,
    weights: LossConfig,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Total training loss of one identity's batch and its terms.

    Parameters
    ----------
    pred_rgb, target_rgb
        ``(B, 3, R, R)`` in [0, 1].
    pred_mask, target_mask, emphasis
        ``(B, 1, R, R)`` in [0, 1].
    weights
        Term weights.

    Returns
    -------
    total
        Scalar tensor to back-propagate.
    terms
        Unweighted values of ``l1``, ``ssim`` (as ``(1 - SSIM) / 2``), ``mask`` and
        ``perceptual`` as floats, for logs.
    """
    w = pixel_weights(target_mask, emphasis, weights.eyes_mouth)
    w_sum = w.sum() + _EPS
    l1 = ((pred_rgb - target_rgb).abs().mean(dim=1, keepdim=True) * w).sum() / w_sum
    dssim = ((1.0 - ssim_map(pred_rgb * target_mask, target_rgb * target_mask)) / 2 * w).sum()
    dssim = dssim / w_sum
    mask_l1 = (pred_mask - target_mask).abs().mean()
    total = weights.l1 * l1 + weights.ssim * dssim + weights.mask * mask_l1
    terms = {"l1": l1, "ssim": dssim, "mask": mask_l1}
    if weights.perceptual > 0:
        perceptual = laplacian_pyramid_l1(pred_rgb * target_mask, target_rgb * target_mask)
        total = total + weights.perceptual * perceptual
        terms["perceptual"] = perceptual
    return total, {name: float(value.detach()) for name, value in terms.items()}


def masked_l1(pred_rgb: torch.Tensor, target_rgb: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean absolute error inside `mask`: the held-out reconstruction metric.

    Returns
    -------
    torch.Tensor
        Scalar in [0, 1]: ``sum(|p - t| * m) / (3 * sum(m))`` over the batch.
    """
    return ((pred_rgb - target_rgb).abs() * mask).sum() / (3 * mask.sum() + _EPS)

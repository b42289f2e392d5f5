"""Watermark benchmark: cost per 1080p frame, visibility (PSNR) and detection after attacks.

Run: ``.venv/bin/python benchmarks/watermark.py [--frames N] [--strength S] [--plates ...]``

Prints
1. embed / detect time per 1920x1080 frame (median of repeats, this machine);
2. PSNR of watermarked vs original frames, and what the swap's default output keeps: PSNR
   against the plate after H.264 CRF 12 with and without the watermark;
3. for each real plate, the facecast output path (watermark every frame, H.264 CRF 16
   through `facecast.media.VideoWriter`) attacked by re-encoding at CRF 28, downscaling to half,
   cropping 10% off each side, and all three at once: the share of frames in which the render
   id decodes on its own, whether the whole clip decodes (`detect_in_video`), and the
   false-positive count on the unwatermarked plate.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from facecast.media import VideoWriter, open_plate
from facecast.provenance.watermark import (
    DEFAULT_STRENGTH,
    WatermarkEmbedder,
    WatermarkKey,
    detect_in_video,
    detect_watermark,
    embed_watermark,
)

REPO = Path(__file__).resolve().parents[1]
PLATES = [
    "plates/weekly_address_clip1.mp4",
    "plates/weekly_address_clip4.mp4",
    "plates/tears_of_steel_10s.mp4",
]
PAYLOAD = bytes.fromhex("0123456789abcdef")
ATTACKS = {
    "output (crf 16)": {},
    "re-encode crf 28": {"crf": 28},
    "half size (crf 23)": {"crf": 23, "scale": 0.5},
    "crop 10%/side (crf 23)": {"crf": 23, "crop": 0.1},
    "crop+half+crf 28": {"crf": 28, "crop": 0.1, "scale": 0.5},
}


def find(relative: str) -> Path:
    for root in (REPO / "tests" / "data", REPO.parent / "shared" / "data"):
        if (root / relative).exists():
            return root / relative
    sys.exit(f"missing test data {relative}")


def read(path: Path, limit: int | None = None) -> list[np.ndarray]:
    frames = []
    for frame in open_plate(path).frames():
        frames.append(frame)
        if limit and len(frames) == limit:
            break
    return frames


def write(frames: list[np.ndarray], path: Path, crf: int, fps: Fraction) -> Path:
    height, width = frames[0].shape[:2]
    with VideoWriter(path, width, height, fps, crf=crf) as writer:
        for frame in frames:
            writer.write(frame)
    return path


def attack(frames: list[np.ndarray], crop: float = 0.0, scale: float = 1.0) -> list[np.ndarray]:
    out = []
    for frame in frames:
        height, width = frame.shape[:2]
        dy, dx = round(height * crop), round(width * crop)
        frame = frame[dy : height - dy, dx : width - dx]
        if scale != 1.0:
            size = (round(frame.shape[1] * scale) // 2 * 2, round(frame.shape[0] * scale) // 2 * 2)
            frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
        out.append(
            np.ascontiguousarray(frame[: frame.shape[0] // 2 * 2, : frame.shape[1] // 2 * 2])
        )
    return out


def timed(function, repeats: int) -> float:
    """Median wall time of `function()` in milliseconds."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        samples.append((time.perf_counter() - start) * 1e3)
    return statistics.median(samples)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0**2 / mse)


def cost_table(frame_720: np.ndarray, strength: float) -> None:
    frame = cv2.resize(frame_720, (1920, 1080), interpolation=cv2.INTER_CUBIC)
    key = WatermarkKey()
    embedder = WatermarkEmbedder(PAYLOAD, key, frame.shape[:2], strength)
    marked = embedder.apply(frame)
    deep = frame.astype(np.uint16) * 257
    rows = {
        "WatermarkEmbedder.apply (precomputed pattern)": (lambda: embedder.apply(frame), 30),
        "WatermarkEmbedder(...) setup, once per shot": (
            lambda: WatermarkEmbedder(PAYLOAD, key, frame.shape[:2], strength),
            5,
        ),
        "embed_watermark (pattern rebuilt every call)": (
            lambda: embed_watermark(frame, PAYLOAD, key, strength=strength),
            10,
        ),
        "WatermarkEmbedder.apply on uint16 frame": (lambda: embedder.apply(deep), 10),
        "detect_watermark, watermarked frame": (lambda: detect_watermark(marked, key), 5),
        "detect_watermark, plain frame": (lambda: detect_watermark(frame, key), 5),
    }
    print("== cost per 1920x1080 frame (median ms; machine shared, so noisy) ==")
    for name, (function, repeats) in rows.items():
        print(f"{name:48s} {timed(function, repeats):8.1f}")


def delivered_psnr(frames: list[np.ndarray], marked: list[np.ndarray], workdir: Path, fps) -> str:
    """Worst-frame PSNR against the plate after H.264 CRF 12 (the swap's default output),
    without and with the watermark."""
    worst = []
    for name, source in (("plain", frames), ("marked", marked)):
        decoded = read(write(source, workdir / f"crf12_{name}.mp4", 12, fps))
        worst.append(min(psnr(d, f) for d, f in zip(decoded, frames, strict=True)))
    return f"{worst[0]:.2f} dB without the watermark, {worst[1]:.2f} dB with it"


def plate_table(relative: str, limit: int | None, workdir: Path, strength: float) -> None:
    plate = find(relative)
    fps = open_plate(plate).info.fps
    frames = read(plate, limit)
    embedder = WatermarkEmbedder(PAYLOAD, WatermarkKey(), frames[0].shape[:2], strength)
    marked = [embedder.apply(frame) for frame in frames]
    alone = [psnr(m, f) for m, f in zip(marked, frames, strict=True)]
    output = read(write(marked, workdir / "output.mp4", 16, fps))
    height, width = frames[0].shape[:2]
    print(f"\n== {relative}: {width}x{height}, {len(frames)} frames, strength {strength} ==")
    print(f"PSNR watermarked vs original: min {min(alone):.2f} dB, mean {np.mean(alone):.2f} dB")
    delivered = delivered_psnr(frames, marked, workdir, fps)
    print(f"PSNR vs plate after H.264 CRF 12 (worst frame): {delivered}")
    header = ("attack", "size", "frames read", "rate", "clip", "conf", "ms/frame")
    print("{:26s} {:>9s} {:>12s} {:>6s} {:>6s} {:>5s} {:>8s}".format(*header))
    for name, options in ATTACKS.items():
        crf = options.get("crf")
        geometry = {k: v for k, v in options.items() if k != "crf"}
        attacked = output if crf is None else attack(output, **geometry)
        if crf is not None:
            attacked = read(write(attacked, workdir / "attacked.mp4", crf, fps))
        start = time.perf_counter()
        results = [detect_watermark(frame) for frame in attacked]
        per_frame = (time.perf_counter() - start) * 1e3 / len(attacked)
        right = sum(r.found and r.payload == PAYLOAD for r in results)
        wrong = sum(r.found and r.payload != PAYLOAD for r in results)
        clip = detect_in_video(workdir / ("output.mp4" if crf is None else "attacked.mp4"))
        clip_ok = "yes" if clip.found and clip.payload == PAYLOAD else "NO"
        size = f"{attacked[0].shape[1]}x{attacked[0].shape[0]}"
        print(
            f"{name:26s} {size:>9s} {right:5d}/{len(attacked):<6d} {right / len(attacked):6.0%} "
            f"{clip_ok:>6s} {clip.confidence:5.2f} {per_frame:8.1f}"
            + (f"  WRONG PAYLOADS {wrong}" if wrong else "")
        )
    false = sum(detect_watermark(frame).found for frame in frames)
    clip = detect_in_video(plate)
    print(f"unwatermarked plate: false positives {false}/{len(frames)} frames, clip: {clip.found}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=None, help="frames per plate (default all)")
    parser.add_argument(
        "--strength", type=float, default=DEFAULT_STRENGTH, help="RMS luma change, 8-bit levels"
    )
    parser.add_argument("--plates", nargs="+", default=PLATES, help="plates under the data root")
    args = parser.parse_args()
    cv2.setNumThreads(2)
    cost_table(read(find(args.plates[0]), 1)[0], args.strength)
    with tempfile.TemporaryDirectory() as folder:
        for relative in args.plates:
            plate_table(relative, args.frames, Path(folder), args.strength)


if __name__ == "__main__":
    main()

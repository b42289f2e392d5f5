"""Throughput and memory of `facecast swap` against plain decode+encode of the same plate.

Prints, per plate (the 720p weekly address clip, and a 1080p upscale of it made here):
- transcode fps: decode + H.264 encode with the writer facecast uses (the baseline);
- swap fps: the whole job (analysis pass, swap pass, watermark, matte off, encode);
- the ratio swap/transcode (target >= 0.5, aiming at 0.75 on 2 cores);
- the time split of the swap (analysis vs. render pass);
- CPU seconds (all threads) of the transcode and of the swap: unlike wall time they barely move
  with other load on the machine, so their ratio says what the swap costs even on a busy host;
- the ratio the swap would reach were its CPU time spread over every core all the time
  ("ceiling": transcode seconds over swap CPU seconds / cores). The gap to the measured ratio
  is the time cores wait (the analysis pass before the swap pass); the ceiling itself moves
  only with the work done;
- peak RSS of a swap of the plate and of the same plate three times as long (must stay flat).

Each measurement runs in its own process so peak memory and CPU time are its own.

    .venv/bin/python benchmarks/swap.py [--quick] [--repeat N]

Each plate is measured `--repeat` times (transcode, swap, transcode, swap, ...; default 3)
and the median ratio printed: on a shared 2-core machine single runs vary by +-0.04.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PLATE = REPO / "tests" / "data" / "plates" / "weekly_address_clip1.mp4"
REFS = [
    REPO / "tests" / "data" / "faces" / "london" / "004" / f"{n}.jpg"
    for n in ("neutral", "smiling")
]
CONSENT = REPO / "examples" / "consent_london_004.toml"


def _child(task: dict) -> dict:
    """Run one measurement in this process and return its numbers."""
    from facecast.media import open_plate, open_writer
    from facecast.render import RenderSettings, render_shot

    plate, out = Path(task["plate"]), Path(task["out"])
    usage = resource.getrusage(resource.RUSAGE_SELF)
    task["cpu_before"] = usage.ru_utime + usage.ru_stime  # imports and set-up excluded
    started = time.perf_counter()
    if task["kind"] == "transcode":
        shot = open_plate(plate)
        with open_writer(out, shot.info) as writer:
            for frame in shot.frames():
                writer.write(frame)
        frames, split = shot.info.frame_count, {}
    else:
        result = render_shot(
            plate, task["character"], out, progress=False, settings=RenderSettings()
        )
        frames, split = result.frame_count, result.seconds
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "frames": frames,
        "seconds": seconds,
        "fps": frames / seconds,
        "cpu_seconds": usage.ru_utime + usage.ru_stime - task["cpu_before"],
        "peak_mib": usage.ru_maxrss / 1024,
        "split": split,
    }


def _measure(task: dict) -> dict:
    command = [sys.executable, __file__, "--child", json.dumps(task)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _measure_swap(plate: Path, out: Path, character: Path) -> dict:
    """`_measure` of a whole `facecast swap` of `plate` with `character`."""
    task = {"kind": "swap", "plate": str(plate), "out": str(out), "character": str(character)}
    return _measure(task)


def _scaled_plate(source: Path, target: Path, height: int, repeat: int = 1) -> Path:
    """Re-encode `source` at `height` lines (keeping audio), `repeat` times in a row."""
    import cv2

    from facecast.media import VideoWriter, open_plate

    shot = open_plate(source)
    width = round(shot.info.width * height / shot.info.height / 2) * 2
    with VideoWriter(target, width, height, shot.info.fps, crf=18) as writer:
        for _ in range(repeat):
            for frame in shot.frames():
                writer.write(cv2.resize(frame, (width, height), interpolation=cv2.INTER_CUBIC))
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child")
    parser.add_argument("--quick", action="store_true", help="720p only, no memory run")
    parser.add_argument(
        "--repeat", type=int, default=3, help="transcode/swap pairs per plate (median ratio)"
    )
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(json.loads(args.child))))
        return

    from facecast.character import create_character

    work = Path(tempfile.mkdtemp(prefix="facecast-bench-"))
    character = work / "london-004"
    create_character(character, REFS, CONSENT)
    plates = {"720p": PLATE}
    if not args.quick:
        plates["1080p"] = _scaled_plate(PLATE, work / "plate_1080p.mp4", 1080)

    print(
        f"{'plate':8} {'frames':>6} {'transcode fps':>14} {'swap fps':>9} {'ratio':>6} "
        f"{'ceiling':>8} {'analyze s':>10} {'render s':>9} {'cpu s t/s':>11} {'peak MiB':>9}"
    )
    cores = os.cpu_count() or 1
    for name, plate in plates.items():
        ratios = []
        for _ in range(args.repeat):  # transcode and swap alternate, so drift hits both
            base = _measure({"kind": "transcode", "plate": str(plate), "out": str(work / "t.mp4")})
            swap = _measure_swap(plate, work / "s.mp4", character)
            ratios.append(swap["fps"] / base["fps"])
            ceiling = base["seconds"] / (swap["cpu_seconds"] / cores)
            print(
                f"{name:8} {swap['frames']:>6} {base['fps']:>14.1f} {swap['fps']:>9.1f} "
                f"{ratios[-1]:>6.2f} {ceiling:>8.2f} {swap['split'].get('analyze', 0):>10.1f} "
                f"{swap['split'].get('render', 0):>9.1f} "
                f"{base['cpu_seconds']:>5.1f}/{swap['cpu_seconds']:<5.1f} {swap['peak_mib']:>9.0f}",
                flush=True,
            )
        if len(ratios) > 1:
            print(
                f"{name:8} median ratio {statistics.median(ratios):.2f} "
                f"(range {min(ratios):.2f}-{max(ratios):.2f} over {len(ratios)} pairs)"
            )
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (ratios are within one run)")

    if not args.quick:
        long_plate = _scaled_plate(PLATE, work / "plate_x3.mp4", 720, repeat=3)
        short = _measure_swap(PLATE, work / "a.mp4", character)
        long = _measure_swap(long_plate, work / "b.mp4", character)
        print(
            f"peak memory: {short['frames']} frames {short['peak_mib']:.0f} MiB, "
            f"{long['frames']} frames {long['peak_mib']:.0f} MiB "
            f"(ratio {long['peak_mib'] / short['peak_mib']:.2f} for 3x the frames)"
        )


if __name__ == "__main__":
    main()

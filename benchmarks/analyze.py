"""Analysis speed and memory: ``analyze`` next to plain decode of the same file, same run.

Prints two tables.

1. Speed, per plate: frames per second of plain decode, of decode + H.264 encode (the swap's
   reference: its target is at least half that speed), and of ``analyze_plate`` (decode,
   cut detection, face detection, landmarks, tracking), then milliseconds per frame of each
   analysis step and the ratio ``analyze fps / decode fps``. Wall-clock and process CPU time
   are both shown: on a shared machine the CPU time is the steadier number.
2. Memory, per shot length: peak resident memory (``ru_maxrss``) and peak Python heap
   (tracemalloc) of a fresh process that analyses a shot of N frames, for two lengths. Frames
   are streamed, so only the per-face results (the ``ShotTracks``) grow with the shot.

Plates: the 720p talking head ``weekly_address_clip1.mp4`` as shipped, the same upscaled to
1080p (written once into a temporary folder), and for memory that 1080p plate looped to four
times its length.

    .venv/bin/python benchmarks/analyze.py            # everything (about 2-4 minutes)
    .venv/bin/python benchmarks/analyze.py --quick    # speed on the 720p plate only

Data: tests/data (public-domain White House weekly address clip).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import cv2

from facecast.analysis import CutDetector, FaceAnalyzer, FaceTracker, ShotTracks, analyze_plate
from facecast.media import VideoWriter, open_plate, to_uint8

REPO = Path(__file__).resolve().parents[1]
PLATE = REPO / "tests" / "data" / "plates" / "weekly_address_clip1.mp4"


class Clock:
    """Wall and CPU seconds of a block."""

    def __enter__(self) -> Clock:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def make_plate(source: Path, target: Path, size: tuple[int, int] | None, loops: int = 1) -> Path:
    """Write `source` resized to `size` (and repeated `loops` times) as a near-lossless H.264."""
    info = open_plate(source).info
    width, height = size or (info.width, info.height)
    with VideoWriter(target, width, height, info.fps, crf=14) as writer:
        for _ in range(loops):
            for frame in open_plate(source).frames():
                if size:
                    frame = cv2.resize(frame, size, interpolation=cv2.INTER_CUBIC)
                writer.write(frame)
    return target


def decode_fps(path: Path) -> tuple[float, float, int]:
    count = 0
    with Clock() as clock:
        for _ in open_plate(path).frames():
            count += 1
    return count / clock.wall, count / clock.cpu, count


def transcode_fps(path: Path, scratch: Path) -> float:
    plate = open_plate(path)
    info = plate.info
    with Clock() as clock, VideoWriter(scratch, info.width, info.height, info.fps) as writer:
        for frame in plate.frames():
            writer.write(frame)
    return info.frame_count / clock.wall


def step_times(path: Path, analyzer: FaceAnalyzer) -> dict[str, float]:
    """Milliseconds of CPU per frame for each step, running the steps of `iter_analysis`."""
    plate = open_plate(path)
    tracker, cuts = FaceTracker(plate.info.fps), CutDetector()
    totals = dict.fromkeys(("decode", "cuts", "detect+landmarks", "track+smooth"), 0.0)
    frames = plate.frames()
    count = 0
    while True:
        with Clock() as clock:
            raw = next(frames, None)
            frame = None if raw is None else to_uint8(raw)
        if frame is None:
            break
        totals["decode"] += clock.cpu
        with Clock() as clock:
            cut = cuts.is_cut(frame)
            if cut:
                analyzer.reset()
                tracker.cut()
        totals["cuts"] += clock.cpu
        with Clock() as clock:
            faces = analyzer.detect(frame)
        totals["detect+landmarks"] += clock.cpu
        with Clock() as clock:
            tracker.update(count, frame, faces)
        totals["track+smooth"] += clock.cpu
        count += 1
    return {name: 1000 * seconds / count for name, seconds in totals.items()}


def speed_row(label: str, path: Path, scratch: Path) -> dict:
    decode_wall, decode_cpu, frames = decode_fps(path)
    transcode = transcode_fps(path, scratch)
    with FaceAnalyzer() as analyzer:
        plate = open_plate(path)
        with Clock() as clock:
            tracks = analyze_plate(plate, analyzer, progress=False)
    with FaceAnalyzer() as analyzer:
        steps = step_times(path, analyzer)
        split = {
            "detector": 1000 * analyzer.timings["detect"] / analyzer.timings["frames"],
            "landmarks": 1000 * analyzer.timings["mesh"] / analyzer.timings["frames"],
        }
    return {
        "plate": label,
        "frames": frames,
        "decode_fps": decode_wall,
        "decode_cpu_fps": decode_cpu,
        "decode_encode_fps": transcode,
        "analyze_fps": frames / clock.wall,
        "analyze_cpu_fps": frames / clock.cpu,
        "ratio": (frames / clock.wall) / decode_wall,
        "cpu_ratio": (frames / clock.cpu) / decode_cpu,
        "tracks": len(tracks.track_ids()),
        "steps_ms": steps,
        "wall_split_ms": split,
    }


def memory_probe(path: str) -> None:
    """Child process: analyse `path`, print peak RSS and peak traced heap as JSON."""
    tracemalloc.start()
    with FaceAnalyzer() as analyzer:
        tracks: ShotTracks = analyze_plate(open_plate(path), analyzer, progress=False)
    _, heap_peak = tracemalloc.get_traced_memory()
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = {
        "frames": len(tracks.frames),
        "rss_mib": rss_kib / 1024,
        "heap_mib": heap_peak / 2**20,
    }
    print(json.dumps(result))


def memory_row(path: Path) -> dict:
    command = [sys.executable, __file__, "--memory-probe", str(path)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def print_speed(rows: list[dict]) -> None:
    print("\nSpeed (wall fps; CPU fps = frames per CPU-second of this process)")
    header = (
        f"{'plate':<14}{'frames':>7}{'decode':>9}{'dec+enc':>9}{'analyze':>9}"
        f"{'ratio':>7}{'dec cpu':>9}{'ana cpu':>9}{'cpu ratio':>10}{'tracks':>7}"
    )
    print(header)
    for r in rows:
        print(
            f"{r['plate']:<14}{r['frames']:>7}{r['decode_fps']:>9.1f}{r['decode_encode_fps']:>9.1f}"
            f"{r['analyze_fps']:>9.1f}{r['ratio']:>7.2f}{r['decode_cpu_fps']:>9.1f}"
            f"{r['analyze_cpu_fps']:>9.1f}{r['cpu_ratio']:>10.2f}{r['tracks']:>7}"
        )
    print("\nCPU ms per frame by step (separate pass; detector/landmarks split is wall ms)")
    names = [*rows[0]["steps_ms"], "detector", "landmarks"]
    print(f"{'plate':<14}" + "".join(f"{n:>18}" for n in names))
    for r in rows:
        values = list(r["steps_ms"].values()) + list(r["wall_split_ms"].values())
        print(f"{r['plate']:<14}" + "".join(f"{v:>18.2f}" for v in values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="720p speed only")
    parser.add_argument("--memory-probe", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_probe:
        memory_probe(args.memory_probe)
        return
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        rows = [speed_row("720p", PLATE, scratch / "t720.mp4")]
        if not args.quick:
            hd = make_plate(PLATE, scratch / "plate_1080p.mp4", (1920, 1080))
            rows.append(speed_row("1080p", hd, scratch / "t1080.mp4"))
        print_speed(rows)
        if args.quick:
            return
        long_hd = make_plate(PLATE, scratch / "plate_1080p_x4.mp4", (1920, 1080), loops=4)
        print("\nPeak memory of a fresh process analysing a 1080p shot")
        print(f"{'frames':>7}{'peak RSS MiB':>14}{'peak heap MiB':>15}")
        for path in (hd, long_hd):
            m = memory_row(path)
            print(f"{m['frames']:>7}{m['rss_mib']:>14.1f}{m['heap_mib']:>15.1f}")
        print(
            "(the heap grows only with the per-face results kept in ShotTracks: about "
            f"{2 * 478 * 3 * 4 / 1024:.0f} KiB of landmarks, smoothed and raw, per face per frame)"
        )


if __name__ == "__main__":
    main()

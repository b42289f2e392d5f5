"""Plots of the per-frame metrics, drawn with matplotlib's Agg canvas and returned as PNG bytes.

No pyplot: each plot is its own `Figure`, so nothing global is touched.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from facecast.quality.frames import FrameMetrics
from facecast.quality.summary import THRESHOLDS

_LIMIT = {t.key: t.good for t in THRESHOLDS}


@dataclass(frozen=True)
class Series:
    """One line of a plot: a label and how to read its value from a frame."""

    label: str
    value: Callable[[FrameMetrics], float | None]
    style: str = "-"


@dataclass(frozen=True)
class PlotSpec:
    """One plot: title, y-axis label, lines, and the target drawn as a dashed line."""

    key: str
    title: str
    ylabel: str
    series: tuple[Series, ...]
    target: float | None = None


PLOTS: tuple[PlotSpec, ...] = (
    PlotSpec(
        "identity",
        "Identity: dlib distance (lower = more alike)",
        "distance",
        (
            Series("output → character", lambda r: r.distance_to_character),
            Series("plate → character (before)", lambda r: r.plate_distance_to_character, "--"),
            Series("output → actor", lambda r: r.distance_to_actor, ":"),
        ),
        _LIMIT["distance_to_character"],
    ),
    PlotSpec(
        "pose",
        "Head pose error, output vs plate",
        "degrees",
        (
            Series("total", lambda r: r.pose_error),
            Series("tracking (offset removed)", lambda r: r.pose_tracking_error, "-."),
            Series("yaw", lambda r: r.yaw_error, ":"),
            Series("pitch", lambda r: r.pitch_error, ":"),
            Series("roll", lambda r: r.roll_error, ":"),
        ),
        _LIMIT["pose_error"],
    ),
    PlotSpec(
        "mouth",
        "Mouth opening (fraction of inter-ocular distance)",
        "IOD",
        (
            Series("plate", lambda r: r.mouth_plate, "--"),
            Series("output", lambda r: r.mouth_output),
            Series("output, mouth read alone", lambda r: r.mouth_local_output, "-."),
            Series("error", lambda r: r.mouth_error, ":"),
        ),
        _LIMIT["mouth_error"],
    ),
    PlotSpec(
        "eyes",
        "Eye opening (fraction of inter-ocular distance)",
        "IOD",
        (
            Series("plate", lambda r: r.eye_plate, "--"),
            Series("output", lambda r: r.eye_output),
            Series("output, eyes read alone", lambda r: r.eye_local_output, "-."),
            Series("error", lambda r: r.eye_error, ":"),
        ),
        _LIMIT["eye_error"],
    ),
    PlotSpec(
        "stability",
        "Frame-to-frame change inside the face",
        "mean |Δ luma| (0-255)",
        (
            Series("output", lambda r: r.change_output),
            Series("plate", lambda r: r.change_plate, "--"),
        ),
    ),
    PlotSpec(
        "seam",
        "Colour difference across the matte edge",
        "ΔE00",
        (
            Series("output", lambda r: r.edge_de_output),
            Series("plate", lambda r: r.edge_de_plate, "--"),
            Series("excess", lambda r: r.edge_de_excess, ":"),
        ),
        _LIMIT["edge_de_excess"],
    ),
    PlotSpec(
        "psnr",
        "Untouched pixels: PSNR outside the dilated face region",
        "dB",
        (Series("output vs plate", lambda r: r.psnr_outside),),
        _LIMIT["psnr_outside"],
    ),
)


def plot_png(spec: PlotSpec, frames: Sequence[FrameMetrics]) -> bytes:
    """Draw one metric over the shot; problem frames shaded red, faceless frames grey.

    Returns
    -------
    bytes
        A PNG image, 900 x 260 pixels.
    """
    figure = Figure(figsize=(9, 2.6), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    index = np.array([r.index for r in frames])
    _shade(axes, frames)
    for series in spec.series:
        values = np.array([_value(series.value(r)) for r in frames], float)
        marker = "." if np.isfinite(values).sum() < 3 else None
        axes.plot(index, values, series.style, marker=marker, linewidth=1.3, label=series.label)
    if spec.target is not None:
        axes.axhline(spec.target, color="#b03030", linewidth=0.9, linestyle="--", label="target")
    axes.set_title(spec.title, fontsize=10, loc="left")
    axes.set_xlabel("frame", fontsize=8)
    axes.set_ylabel(spec.ylabel, fontsize=8)
    axes.tick_params(labelsize=8)
    axes.set_xlim(index.min() - 0.5 if len(index) else 0, index.max() + 0.5 if len(index) else 1)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=5, frameon=False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def _value(value: float | None) -> float:
    return np.nan if value is None else float(value)


def _shade(axes, frames: Sequence[FrameMetrics]) -> None:
    """Background spans: red where a frame has problems, grey where no face was measured
    (none in the plate, or the renderer swapped none)."""
    for record in frames:
        if record.status in ("no_face", "not_swapped"):
            axes.axvspan(record.index - 0.5, record.index + 0.5, color="#999999", alpha=0.15, lw=0)
        elif record.problems:
            axes.axvspan(record.index - 0.5, record.index + 0.5, color="#e04040", alpha=0.12, lw=0)

"""One Euro filter: adaptive low-pass smoothing of landmarks that removes jitter without lag.

Casiez, Roussel & Vogel (2012), "1€ Filter: A Simple Speed-based Low-pass Filter for Noisy Input
in Interactive Systems", CHI. The cutoff frequency rises with the signal's speed: a still face
is smoothed hard (jitter gone), a fast head turn barely at all (no lag).

Here the speed is measured per landmark (over its x, y, z together) and divided by the face's
size, so one setting works for a 60 px face in a crowd and a 600 px close-up.
"""

from __future__ import annotations

import numpy as np

__all__ = ["OneEuroFilter"]


def _alpha(dt: float, cutoff: np.ndarray | float) -> np.ndarray | float:
    """Smoothing factor of a first-order low-pass with `cutoff` Hz at time step `dt` s."""
    tau = 1.0 / (2.0 * np.pi * np.asarray(cutoff, np.float64))
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """Smooth a stream of point sets.

    Parameters
    ----------
    min_cutoff
        Cutoff in Hz for a still signal: lower removes more jitter.
    beta
        How fast the cutoff rises with speed, per (face size per second): higher lags less.
    d_cutoff
        Cutoff in Hz of the low-pass on the speed estimate itself.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 1.0, d_cutoff: float = 1.0) -> None:
        self.min_cutoff = min_cutoff
        self.beta = beta
        self.d_cutoff = d_cutoff
        self._value: np.ndarray | None = None
        self._speed: np.ndarray | None = None
        self._time = 0.0

    def reset(self) -> None:
        """Forget the past (after a gap or a cut)."""
        self._value = None
        self._speed = None

    def __call__(self, points: np.ndarray, time_s: float, scale: float = 1.0) -> np.ndarray:
        """Filter one sample.

        Parameters
        ----------
        points
            ``float32 (N, D)``: N points with D coordinates, in pixels.
        time_s
            Sample time in seconds; must increase from call to call.
        scale
            Size that makes speeds comparable across faces (the face size in pixels).

        Returns
        -------
        ndarray
            ``float32 (N, D)`` smoothed points (the input itself on the first call).
        """
        current = np.asarray(points, np.float64)
        if self._value is None or self._speed is None:
            self._value = current.copy()
            self._speed = np.zeros(current.shape[0], np.float64)
            self._time = time_s
            return current.astype(np.float32)
        dt = max(time_s - self._time, 1e-6)
        self._time = time_s
        speed = np.linalg.norm(current - self._value, axis=1) / (dt * max(scale, 1e-6))
        self._speed = self._speed + _alpha(dt, self.d_cutoff) * (speed - self._speed)
        cutoff = self.min_cutoff + self.beta * self._speed
        weight = _alpha(dt, cutoff)[:, None]
        self._value = self._value + weight * (current - self._value)
        return self._value.astype(np.float32)

"""Piecewise-affine warping on a fixed triangle mesh, with depth order and back-face culling.

The destination is rasterised into a triangle-index map (nearest triangles drawn last), each
covered pixel gets its triangle's affine map back to the source, and the source is sampled once
with `cv2.remap`. Triangles that face away in the destination (their winding flips relative to
the source) are skipped, so a turned head hides its far cheek instead of folding it over.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

_SUBPIXEL_BITS = 4
#: Source coordinate given to uncovered pixels: far enough outside any source that a bilinear
#: `cv2.remap` with a constant border returns exactly the border value there.
_OUTSIDE = -16.0


@dataclass
class MeshRaster:
    """Which triangle covers each pixel of a destination box, and where it maps in the source.

    Attributes
    ----------
    triangle_index
        ``int32 (h, w)``: triangle covering each pixel, ``-1`` where none does.
    map_x, map_y
        ``float32 (h, w)``: source coordinates of each pixel (far outside the source, at
        ``-16``, where not covered).
    """

    triangle_index: np.ndarray
    map_x: np.ndarray
    map_y: np.ndarray
    _grid: tuple = ()  # (coarse index map, local dst points, triangles, step, full size)

    @property
    def covered(self) -> np.ndarray:
        """``bool (h, w)``: pixels some triangle covers."""
        return self.triangle_index >= 0


def _signed_areas(points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """``float64 (T,)`` twice the signed area of each triangle of ``points (N, 2)``."""
    a, b, c = (points[triangles[:, k]].astype(np.float64) for k in range(3))
    return (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])


def _affine_maps(dst: np.ndarray, src: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """``float64 (T, 2, 3)`` affine maps taking each destination triangle onto its source one.

    Closed form: the map sends the destination edge vectors onto the source ones, so its linear
    part is ``S @ inv(D)`` with ``D``, ``S`` the 2x2 edge matrices (degenerate triangles get the
    zero map; they cover no pixel).
    """
    d0, d1, d2 = (dst[triangles[:, k]].astype(np.float64) for k in range(3))
    s0, s1, s2 = (src[triangles[:, k]].astype(np.float64) for k in range(3))
    du, dv, su, sv = d1 - d0, d2 - d0, s1 - s0, s2 - s0
    det = du[:, 0] * dv[:, 1] - du[:, 1] * dv[:, 0]
    inv_det = np.where(np.abs(det) > 1e-9, 1.0 / np.where(det == 0, 1.0, det), 0.0)
    # inverse of D = [du dv] (columns): [[dv_y, -dv_x], [-du_y, du_x]] / det
    inv = (
        np.stack([np.stack([dv[:, 1], -dv[:, 0]], 1), np.stack([-du[:, 1], du[:, 0]], 1)], 1)
        * inv_det[:, None, None]
    )
    edges = np.stack([su, sv], axis=2)  # (T, 2, 2): columns su, sv
    linear = edges @ inv  # (T, 2, 2)
    offset = s0 - np.einsum("tij,tj->ti", linear, d0)
    return np.concatenate([linear, offset[:, :, None]], axis=2)


def rasterize(
    dst_points: np.ndarray,
    src_points: np.ndarray,
    triangles: np.ndarray,
    box: tuple[int, int, int, int],
    depth: np.ndarray | None = None,
    cull_back_faces: bool = True,
    step: int = 1,
) -> MeshRaster:
    """Rasterise a mesh into a destination box and map every covered pixel to the source.

    Parameters
    ----------
    dst_points
        ``float (N, 2)`` vertex positions in destination pixels (full-frame coordinates).
    src_points
        ``float (N, 2)`` the same vertices in source pixels.
    triangles
        ``int (T, 3)`` vertex indices.
    box
        ``(x0, y0, x1, y1)`` destination region to rasterise, in full-frame pixels.
    depth
        ``float (N,)`` per-vertex depth in the destination (smaller is nearer); when given,
        nearer triangles win where triangles overlap.
    cull_back_faces
        Skip triangles whose winding in the destination is opposite to the source's.
    step
        Rasterise every `step`-th pixel and interpolate the maps in between. The warp is
        continuous across triangle edges, so ``step=2`` changes the maps by a small fraction of
        a pixel inside the mesh and moves the coverage edge by at most a pixel, for about a
        third of the cost.

    Returns
    -------
    MeshRaster
        Maps of shape ``(y1 - y0, x1 - x0)``.
    """
    x0, y0, x1, y1 = box
    full_size = (x1 - x0, y1 - y0)
    height, width = -(-(y1 - y0) // step), -(-(x1 - x0) // step)
    # grid pixel i of the coarse raster sits where cv2.resize puts it: at i * step + (step-1)/2
    local = (dst_points[:, :2].astype(np.float64) - (x0, y0) - (step - 1) / 2) / step
    areas = _signed_areas(local, triangles)
    keep = np.abs(areas) > 1e-6
    if cull_back_faces:
        keep &= np.sign(areas) == np.sign(_signed_areas(src_points[:, :2], triangles))
    visible = np.flatnonzero(keep)
    if depth is not None:
        tri_depth = depth[triangles[visible]].mean(axis=1)
        visible = visible[np.argsort(-tri_depth, kind="stable")]  # far first, near drawn last

    index_map = np.full((height, width), -1, dtype=np.int32)
    fixed = np.round(local * (1 << _SUBPIXEL_BITS)).astype(np.int32)
    corners = fixed[triangles[visible]]  # (V, 3, 2), gathered once rather than per triangle
    for t, triangle in zip(visible.tolist(), corners, strict=True):
        cv2.fillConvexPoly(index_map, triangle, t, cv2.LINE_8, _SUBPIXEL_BITS)
    _fill_cracks(index_map)

    grid = (index_map, local, triangles, step, full_size)
    full_index = index_map
    if step > 1:
        full_index = cv2.resize(
            index_map.astype(np.float32), full_size, interpolation=cv2.INTER_NEAREST
        ).astype(np.int32)
    return MeshRaster(full_index, *_source_maps(grid, src_points, full_index < 0), _grid=grid)


def _fill_cracks(index_map: np.ndarray) -> None:
    """Give uncovered pixels that covered ones close in (a morphological closing with a 3 x 3
    square) a neighbouring triangle, in place; ``int32 (h, w)``, -1 where uncovered.

    Where the mesh folds (the side of the nose as the head turns) single pixels between
    triangles are left uncovered; each left a hole in the face
    matte that the compositor's erosion widened into a spot of plate (weekly_address_clip1 x
    London 024: one at the left nostril in 5 of 60 frames). The openings' thin slits (a closed
    eye) may be closed too; the plate is kept there anyway."""
    covered = (index_map >= 0).astype(np.uint8)
    square = np.ones((3, 3), np.uint8)
    cracks = cv2.erode(cv2.dilate(covered, square), square, borderValue=0) > covered
    if cracks.any():
        nearby = cv2.dilate(index_map.astype(np.float32), square)
        index_map[cracks] = nearby[cracks].astype(np.int32)


def _source_maps(
    grid: tuple, src_points: np.ndarray, uncovered: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Full-size ``float32`` maps into `src_points`' space for a rasterised coverage grid;
    pixels where ``uncovered (h, w)`` is set map to `_OUTSIDE`."""
    index_map, local, triangles, step, full_size = grid
    maps = _affine_maps(local, src_points[:, :2], triangles).astype(np.float32)
    height, width = index_map.shape
    xs = np.arange(width, dtype=np.float32)[None, :]
    ys = np.arange(height, dtype=np.float32)[:, None]
    # each pixel's six affine coefficients, gathered one coefficient at a time from
    # contiguous (T,) rows (faster than one (h, w, 2, 3) gather)
    coefficients = np.ascontiguousarray(maps.reshape(len(maps), 6).T)
    triangle = np.maximum(index_map, 0)
    ax, bx, cx, ay, by, cy = (np.take(row, triangle) for row in coefficients)
    map_x = ax * xs + bx * ys + cx
    map_y = ay * xs + by * ys + cy
    _clamp_to_triangles(map_x, map_y, src_points, triangles, triangle)
    if step > 1:
        # interpolate from covered grid pixels only: an uncovered neighbour's map is
        # meaningless, and mixing it in would sample far-off source pixels along every hole
        # and edge of the mesh (a bright line around the mouth and eye openings)
        valid = (index_map >= 0).astype(np.float32)
        weight = np.maximum(cv2.resize(valid, full_size, interpolation=cv2.INTER_LINEAR), 1e-6)
        map_x = cv2.resize(map_x * valid, full_size, interpolation=cv2.INTER_LINEAR) / weight
        map_y = cv2.resize(map_y * valid, full_size, interpolation=cv2.INTER_LINEAR) / weight
    np.putmask(map_x, uncovered, _OUTSIDE)
    np.putmask(map_y, uncovered, _OUTSIDE)
    return map_x, map_y


def _clamp_to_triangles(
    map_x: np.ndarray,
    map_y: np.ndarray,
    src_points: np.ndarray,
    triangles: np.ndarray,
    triangle: np.ndarray,
) -> None:
    """Clip each pixel's source position (``float32 (h, w)`` maps, in place) to the source
    bounding box of its triangle (``int (h, w)`` indices into ``triangles (T, 3)``).

    A triangle's fill includes the pixels its edges touch, whose centres may lie just outside
    it; there its affine map extrapolates. For a triangle seen almost edge-on (the side of a
    nostril) one pixel outside is far outside in the source: without the clip such pixels
    sampled beyond the texture and left pinholes of zero coverage in the face (weekly_address
    clip1 x London 024, frame 10: a triangle mapped a pixel 60 texels past the texture's
    edge, and the composite showed the plate through it)."""
    corners = src_points[:, :2].astype(np.float32)[triangles]  # (T, 3, 2)
    low, high = corners.min(axis=1), corners.max(axis=1)
    np.clip(map_x, np.take(low[:, 0], triangle), np.take(high[:, 0], triangle), out=map_x)
    np.clip(map_y, np.take(low[:, 1], triangle), np.take(high[:, 1], triangle), out=map_y)


def with_source(raster: MeshRaster, src_points: np.ndarray) -> MeshRaster:
    """The same coverage as `raster`, mapped into another source: ``src_points (N, 2)`` give the
    same vertices in that source. Cheaper than rasterising again (no triangle filling)."""
    maps = _source_maps(raster._grid, src_points, ~raster.covered)
    return MeshRaster(raster.triangle_index, *maps, _grid=raster._grid)


def sample(source: np.ndarray, raster: MeshRaster, border_value: float = 0.0) -> np.ndarray:
    """Sample ``source (H, W[, C])`` at a raster's source coordinates (bilinear).

    Returns an array of the raster's shape (plus channels) and `source`'s dtype; uncovered
    pixels hold `border_value` (their maps point far outside the source).
    """
    return cv2.remap(
        source,
        raster.map_x,
        raster.map_y,
        interpolation=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=border_value,
    )

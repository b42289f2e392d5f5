"""The mesh rasteriser: every covered pixel maps inside its own triangle's source, and the
single pixels a folded mesh leaves uncovered are closed, while real openings stay open."""

from __future__ import annotations

import numpy as np

from facecast.mesh.warp import _fill_cracks, rasterize, sample


def test_a_triangle_seen_edge_on_samples_inside_its_source():
    """A sliver in the destination (its third corner 0.3 px off the shared edge) that is large
    in the source: the pixels its fill touches must not extrapolate far past its corners."""
    dst = np.array([[10, 10], [60, 10], [10, 60], [35.3, 35.3]], np.float64)
    src = np.array([[0, 0], [100, 0], [0, 100], [100, 100]], np.float64)
    triangles = np.array([[0, 1, 2], [1, 3, 2]], np.int32)
    for step in (1, 2):
        raster = rasterize(dst, src, triangles, (0, 0, 72, 72), cull_back_faces=False, step=step)
        covered = raster.covered
        assert covered.sum() > 1000
        assert raster.map_x[covered].min() >= -0.5 and raster.map_x[covered].max() <= 100.5
        assert raster.map_y[covered].min() >= -0.5 and raster.map_y[covered].max() <= 100.5
        # a source that is 1 everywhere is sampled as 1 wherever the mesh covers
        ones = np.ones((101, 101), np.float32)
        assert sample(ones, raster)[covered].min() > 0.99


def test_single_uncovered_pixels_are_closed_and_openings_are_not():
    index = np.full((40, 40), 7, np.int32)
    index[:, :3] = -1  # outside the mesh
    index[20, 20] = -1  # a crack where the mesh folds
    index[5:15, 25:35] = -1  # an opening (an eye)
    _fill_cracks(index)
    assert index[20, 20] == 7
    assert (index[6:14, 26:34] == -1).all()
    assert (index[:, :2] == -1).all()

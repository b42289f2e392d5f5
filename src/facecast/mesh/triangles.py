"""The face mesh's triangles, recovered from mediapipe's tesselation edge list."""

from __future__ import annotations

import functools
from collections import defaultdict

import numpy as np

#: Points of the face surface (the 10 iris points after them are not part of the surface).
NUM_SURFACE_POINTS = 468


@functools.cache
def mesh_triangles() -> np.ndarray:
    """Triangles of the 468-point face mesh.

    mediapipe publishes the tesselation as an edge set; a triangle is any three vertices that are
    pairwise joined. The result is cached (it is a constant of the topology, not mutable state).

    Returns
    -------
    numpy.ndarray
        ``int32 (T, 3)`` vertex indices, sorted, about 850 triangles.
    """
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_TESSELATION

    neighbours: dict[int, set[int]] = defaultdict(set)
    for a, b in FACEMESH_TESSELATION:
        neighbours[a].add(b)
        neighbours[b].add(a)
    found = {
        tuple(sorted((a, b, c)))
        for a, b in FACEMESH_TESSELATION
        for c in neighbours[a] & neighbours[b]
    }
    return np.array(sorted(found), dtype=np.int32)

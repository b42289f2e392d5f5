"""Named regions of the face mesh as ordered landmark contours (closed polygons).

Contours come from mediapipe's connection sets, chained into vertex order, so they can be filled
with `cv2.fillPoly`. Index arrays are ``int32 (K,)``.
"""

from __future__ import annotations

import functools
from collections import defaultdict

import numpy as np

#: Inner lip contour (the mouth opening), in order around the mouth.
LIPS_INNER = np.array(
    [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191],
    dtype=np.int32,
)
#: Outer lip contour, in order around the mouth.
LIPS_OUTER = np.array(
    [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185],
    dtype=np.int32,
)
#: Landmarks that define the head's frame: eye outer corners, forehead top, chin.
RIGHT_EYE_OUTER, LEFT_EYE_OUTER, FOREHEAD, CHIN = 33, 263, 10, 152
#: Iris centres (refined landmarks).
RIGHT_IRIS_CENTER, LEFT_IRIS_CENTER = 468, 473


def chain_edges(edges: frozenset[tuple[int, int]]) -> np.ndarray:
    """Order the vertices of a closed loop given as an undirected edge set.

    Returns ``int32 (K,)``; raises ``ValueError`` if the edges do not form one simple loop.
    """
    neighbours: dict[int, list[int]] = defaultdict(list)
    for a, b in edges:
        neighbours[a].append(b)
        neighbours[b].append(a)
    if any(len(n) != 2 for n in neighbours.values()):
        raise ValueError("edges do not form a simple closed loop")
    start = min(neighbours)
    order, previous, current = [start], None, start
    while True:
        following = next(v for v in neighbours[current] if v != previous)
        if following == start:
            break
        order.append(following)
        previous, current = current, following
    if len(order) != len(neighbours):
        raise ValueError("edges form more than one loop")
    return np.array(order, dtype=np.int32)


@functools.cache
def contour(name: str) -> np.ndarray:
    """Ordered contour of a mediapipe region: ``"face_oval"``, ``"left_eye"``, ``"right_eye"``,
    ``"left_eyebrow"``, ``"right_eyebrow"``, ``"left_iris"``, ``"right_iris"``,
    ``"lips_inner"`` or ``"lips_outer"``.

    Left and right are the subject's, as in mediapipe.
    """
    if name == "lips_inner":
        return LIPS_INNER
    if name == "lips_outer":
        return LIPS_OUTER
    from mediapipe.python.solutions import face_mesh_connections as connections

    edges = getattr(connections, f"FACEMESH_{name.upper()}")
    if name.endswith("eyebrow"):
        return _open_chain(edges)
    return chain_edges(edges)


def _open_chain(edges: frozenset[tuple[int, int]]) -> np.ndarray:
    """Vertices of an eyebrow outline (mediapipe gives it as an upper and lower path)."""
    vertices = sorted({v for edge in edges for v in edge})
    return np.array(vertices, dtype=np.int32)

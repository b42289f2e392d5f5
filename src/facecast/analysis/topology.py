"""Named landmark contours of the 478-point face mesh, as ordered index arrays.

Every array here is derived at import time from mediapipe's ``FACEMESH_*`` edge sets
(``mediapipe.python.solutions.face_mesh_connections``) by chaining the edges, so the indices
always agree with the installed mesh. Closed contours are listed once around (the first index
is not repeated at the end) and can be passed to ``cv2.fillPoly`` as polygons; open chains
(``NOSE_RIDGE``) are ordered from one end to the other.

"Left" and "right" are the subject's own: ``LEFT_EYE`` is the eye on the image's right side
in a frontal, unmirrored photo (mediapipe's convention).

The arrays are ``int64 (N,)`` and read-only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from itertools import pairwise

import numpy as np
from mediapipe.python.solutions import face_mesh_connections as _mesh

__all__ = [
    "FACE_OVAL",
    "LEFT_EYE",
    "LEFT_EYEBROW",
    "LEFT_IRIS",
    "LIPS_INNER",
    "LIPS_OUTER",
    "NOSE_OUTLINE",
    "NOSE_RIDGE",
    "NUM_LANDMARKS",
    "RIGHT_EYE",
    "RIGHT_EYEBROW",
    "RIGHT_IRIS",
    "TESSELATION",
    "chain_edges",
    "mirror_pairs",
]

#: Points of the refined mesh (468 face points + 2 x 5 iris points).
NUM_LANDMARKS = 478
#: Index of the upper-lip midpoint, used only to tell the outer lip contour from the inner one.
_UPPER_LIP_TOP = 0


def _adjacency(edges: Iterable[tuple[int, int]]) -> dict[int, list[int]]:
    graph: dict[int, list[int]] = defaultdict(list)
    for a, b in edges:
        graph[a].append(b)
        graph[b].append(a)
    return graph


def chain_edges(edges: Iterable[tuple[int, int]]) -> list[np.ndarray]:
    """Order an undirected edge set whose vertices have degree 1 or 2 into chains.

    Parameters
    ----------
    edges
        Pairs of landmark indices.

    Returns
    -------
    list of ndarray
        One ``int64 (N,)`` array per connected component: a closed loop (every vertex of
        degree 2, listed once, starting at its smallest index) or an open path (from its
        smaller end index to the other end). Sorted by their first index.

    Raises
    ------
    ValueError
        If a vertex has more than two neighbours (the edges form a tree or a mesh).
    """
    graph = _adjacency(edges)
    branching = [v for v, n in graph.items() if len(n) > 2]
    if branching:
        raise ValueError(f"vertices {sorted(branching)} have more than two edges")
    seen: set[int] = set()
    chains = []
    ends = sorted(v for v, n in graph.items() if len(n) == 1)
    for start in ends + sorted(graph):
        if start in seen:
            continue
        chain = _walk(graph, start)
        seen.update(chain)
        chains.append(np.asarray(chain, np.int64))
    return sorted(chains, key=lambda c: int(c[0]))


def _walk(graph: dict[int, list[int]], start: int) -> list[int]:
    """Follow degree-2 vertices from `start` until an end or back at `start`."""
    chain, previous, current = [start], None, start
    while True:
        following = [n for n in graph[current] if n != previous]
        if not following or following[0] == start:
            return chain
        # At a loop start both neighbours are candidates: take the smaller for a stable order.
        step = min(following) if previous is None else following[0]
        previous, current = current, step
        chain.append(current)


def _single_loop(edges: Iterable[tuple[int, int]]) -> np.ndarray:
    (loop,) = chain_edges(edges)
    return _frozen(loop)


def _eyebrow(edges: Iterable[tuple[int, int]]) -> np.ndarray:
    """Mediapipe draws a brow as two open chains (upper, lower): join them into one polygon.

    The second chain is appended in the direction whose first point is a mesh neighbour of
    the first chain's last point, so the outline does not cross itself.
    """
    first, second = chain_edges(edges)
    mesh = _adjacency(_mesh.FACEMESH_TESSELATION)
    if int(second[0]) in mesh[int(first[-1])]:
        return _frozen(np.concatenate([first, second]))
    return _frozen(np.concatenate([first, second[::-1]]))


def _lips() -> tuple[np.ndarray, np.ndarray]:
    loops = chain_edges(_mesh.FACEMESH_LIPS)
    outer = next(loop for loop in loops if _UPPER_LIP_TOP in loop)
    inner = next(loop for loop in loops if _UPPER_LIP_TOP not in loop)
    return _frozen(outer), _frozen(inner)


def _nose() -> tuple[np.ndarray, np.ndarray]:
    """Split the nose edge set into its midline ridge and the closed outline of the nostrils.

    The ridge starts at the only degree-1 vertex (between the eyes) and runs down the middle
    to the farther of the two branch points (tip, then base of the nose) by the shortest path;
    the outline is the loop that remains once the ridge edges are removed.
    """
    edges = set(_mesh.FACEMESH_NOSE)
    graph = _adjacency(edges)
    (top,) = [v for v, n in graph.items() if len(n) == 1]
    branches = [v for v, n in graph.items() if len(n) == 3]
    base = max(branches, key=lambda v: len(_shortest_path(graph, top, v)))
    ridge = _shortest_path(graph, top, base)
    on_ridge = set(pairwise(ridge))
    outline = {(a, b) for a, b in edges if (a, b) not in on_ridge and (b, a) not in on_ridge}
    return _frozen(np.asarray(ridge, np.int64)), _single_loop(outline)


def _shortest_path(graph: dict[int, list[int]], start: int, goal: int) -> list[int]:
    """Breadth-first shortest path between two vertices."""
    parents: dict[int, int | None] = {start: None}
    queue = [start]
    for vertex in queue:
        if vertex == goal:
            break
        for neighbour in sorted(graph[vertex]):
            if neighbour not in parents:
                parents[neighbour] = vertex
                queue.append(neighbour)
    path = [goal]
    while parents[path[-1]] is not None:
        path.append(parents[path[-1]])
    return path[::-1]


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.asarray(array, np.int64)
    array.setflags(write=False)
    return array


def mirror_pairs() -> np.ndarray:
    """Pairs of landmarks mirrored across the face's midline, from the face oval and the eyes.

    The face oval is a loop through the forehead midpoint and the chin midpoint; walking it
    both ways from the forehead pairs each point on one side with its twin on the other. The
    side nearer (in mesh edges) to the right eye's outer corner is the subject's right. The
    two eye contours are paired the same way from their outer corners.

    Returns
    -------
    ndarray
        ``int64 (P, 2)``: ``(right_side_index, left_side_index)`` per row.
    """
    ring = _start_at(FACE_OVAL, _FOREHEAD)
    half = len(ring) // 2
    if int(ring[half]) != _CHIN:
        raise AssertionError("face oval is not symmetric about forehead and chin")
    side_a, side_b = ring[1:half], ring[len(ring) - 1 : half : -1]
    mesh = _adjacency(_mesh.FACEMESH_TESSELATION)
    corner = _OUTER_CORNER_RIGHT
    if len(_shortest_path(mesh, int(side_a[4]), corner)) > len(
        _shortest_path(mesh, int(side_b[4]), corner)
    ):
        side_a, side_b = side_b, side_a
    eyes = _eye_pairs()
    return np.concatenate([np.stack([side_a, side_b], axis=1), eyes]).astype(np.int64)


def _eye_pairs() -> np.ndarray:
    """Pair the two eye contours point by point, starting from their outer corners."""
    right = _start_at(RIGHT_EYE, _OUTER_CORNER_RIGHT)
    left = _start_at(LEFT_EYE, _OUTER_CORNER_LEFT)
    # Walking from the outer corner, one loop may go over the upper lid first and the other
    # over the lower lid: reverse a loop so upper lids pair with upper lids.
    if (int(right[1]) in _UPPER_LID_RIGHT) != (int(left[1]) in _UPPER_LID_LEFT):
        left = np.concatenate([left[:1], left[:0:-1]])
    return np.stack([right, left], axis=1)


def _start_at(loop: np.ndarray, first: int) -> np.ndarray:
    return np.roll(loop, -int(np.flatnonzero(loop == first)[0]))


TESSELATION = _frozen(np.asarray(sorted(_mesh.FACEMESH_TESSELATION), np.int64))
FACE_OVAL = _single_loop(_mesh.FACEMESH_FACE_OVAL)
LEFT_EYE = _single_loop(_mesh.FACEMESH_LEFT_EYE)
RIGHT_EYE = _single_loop(_mesh.FACEMESH_RIGHT_EYE)
LEFT_IRIS = _single_loop(_mesh.FACEMESH_LEFT_IRIS)
RIGHT_IRIS = _single_loop(_mesh.FACEMESH_RIGHT_IRIS)
LEFT_EYEBROW = _eyebrow(_mesh.FACEMESH_LEFT_EYEBROW)
RIGHT_EYEBROW = _eyebrow(_mesh.FACEMESH_RIGHT_EYEBROW)
LIPS_OUTER, LIPS_INNER = _lips()
NOSE_RIDGE, NOSE_OUTLINE = _nose()

_FOREHEAD, _CHIN = 10, 152
# Eye corners and upper lids of the mediapipe mesh (subject's right eye is on the image's left).
_OUTER_CORNER_RIGHT, _OUTER_CORNER_LEFT = 33, 263
_UPPER_LID_RIGHT = {246, 161, 160, 159, 158, 157, 173}
_UPPER_LID_LEFT = {466, 388, 387, 386, 385, 384, 398}
#: ``(right, left)`` outer eye corners: the usual inter-ocular reference.
EYE_OUTER_CORNERS = (_OUTER_CORNER_RIGHT, _OUTER_CORNER_LEFT)

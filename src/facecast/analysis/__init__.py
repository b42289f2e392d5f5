"""Face analysis: detect, landmark, track, pose and masks, frame by frame through a shot.

Typical use::

    from facecast.analysis import FaceAnalyzer, analyze_plate
    from facecast.media import open_plate

    with FaceAnalyzer() as analyzer:
        tracks = analyze_plate(open_plate("shot.mp4"), analyzer)
    target = tracks.main_track()

Frames are ``uint8`` RGB ``(H, W, 3)``; landmarks ``float32 (478, 3)`` pixels; masks
``float32 (H, W)`` in [0, 1].
"""

from facecast.analysis import topology
from facecast.analysis.appearance import appearance_descriptor
from facecast.analysis.cuts import CutDetector
from facecast.analysis.detector import FaceAnalyzer
from facecast.analysis.face import NUM_LANDMARKS, Face
from facecast.analysis.hands import HandDetector, HandSearch
from facecast.analysis.masks import face_region_mask, hand_mask, polygon_mask
from facecast.analysis.pose import head_pose
from facecast.analysis.shot import (
    FrameAnalysis,
    ShotTracks,
    TracksFileError,
    analyze_plate,
    iter_analysis,
)
from facecast.analysis.smoothing import OneEuroFilter
from facecast.analysis.tracker import FaceTracker

__all__ = [
    "NUM_LANDMARKS",
    "CutDetector",
    "Face",
    "FaceAnalyzer",
    "FaceTracker",
    "FrameAnalysis",
    "HandDetector",
    "HandSearch",
    "OneEuroFilter",
    "ShotTracks",
    "TracksFileError",
    "analyze_plate",
    "appearance_descriptor",
    "face_region_mask",
    "hand_mask",
    "head_pose",
    "iter_analysis",
    "polygon_mask",
    "topology",
]

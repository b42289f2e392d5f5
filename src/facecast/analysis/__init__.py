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

from facecast._lazy import lazy_exports

#: Public name -> the module it comes from, imported on first use (`facecast._lazy`).
_EXPORTS = {
    "CutDetector": "facecast.analysis.cuts",
    "Face": "facecast.analysis.face",
    "FaceAnalyzer": "facecast.analysis.detector",
    "FaceTracker": "facecast.analysis.tracker",
    "FrameAnalysis": "facecast.analysis.shot",
    "HandDetector": "facecast.analysis.hands",
    "HandSearch": "facecast.analysis.hands",
    "NUM_LANDMARKS": "facecast.analysis.face",
    "OneEuroFilter": "facecast.analysis.smoothing",
    "ShotTracks": "facecast.analysis.shot",
    "TracksFileError": "facecast.analysis.shot",
    "analyze_plate": "facecast.analysis.shot",
    "appearance_descriptor": "facecast.analysis.appearance",
    "face_region_mask": "facecast.analysis.masks",
    "hand_mask": "facecast.analysis.masks",
    "head_pose": "facecast.analysis.pose",
    "iter_analysis": "facecast.analysis.shot",
    "polygon_mask": "facecast.analysis.masks",
    "topology": "facecast.analysis.topology",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

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

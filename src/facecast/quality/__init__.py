"""Shot quality: how well an output replaces the plate's face with the character, in numbers.

Per frame: identity (dlib descriptor distance to the character, the plate face and a gallery;
retrieval), head-pose error, mouth/eye opening error, temporal stability and landmark jitter,
colour mismatch across the matte edge (CIEDE2000), PSNR outside the dilated matte, and lost,
occluded, unchanged or skipped frames. Per shot: a summary with pass/warn/fail per metric,
written as ``report.json`` and a self-contained ``report.html``.

The face is measured with dlib (detector, 68 landmarks, ResNet descriptor), independent of the
mediapipe mesh the engines follow, so the report does not grade an engine with its own eyes.

Entry point: `write_report`. Lower level: `load_quality_models`, `load_references`,
`measure_shot`, `summarise`.
"""

from facecast._lazy import lazy_exports

#: Public name -> the module it comes from, imported on first use (`facecast._lazy`).
_EXPORTS = {
    "IdentityReferences": "facecast.quality.identity",
    "QualityModels": "facecast.quality.dlibface",
    "ShotMeasurement": "facecast.quality.measure",
    "THRESHOLDS": "facecast.quality.summary",
    "load_quality_models": "facecast.quality.dlibface",
    "load_references": "facecast.quality.identity",
    "measure_shot": "facecast.quality.measure",
    "summarise": "facecast.quality.summary",
    "write_report": "facecast.quality.report",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = [
    "THRESHOLDS",
    "IdentityReferences",
    "QualityModels",
    "ShotMeasurement",
    "load_quality_models",
    "load_references",
    "measure_shot",
    "summarise",
    "write_report",
]

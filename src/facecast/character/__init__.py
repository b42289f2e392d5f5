"""Characters: the consent record, visible skin in reference photos, the face texture and the
asset folder that holds them."""

from facecast._lazy import lazy_exports

#: Public name -> the module it comes from, imported on first use (`facecast._lazy`).
_EXPORTS = {
    "Character": "facecast.character.asset",
    "ConsentRecord": "facecast.character.consent",
    "create_character": "facecast.character.asset",
    "load_character": "facecast.character.asset",
    "load_consent": "facecast.character.consent",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = ["Character", "ConsentRecord", "create_character", "load_character", "load_consent"]

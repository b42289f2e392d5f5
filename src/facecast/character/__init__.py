"""Characters: the consent record, visible skin in reference photos, the face texture and the
asset folder that holds them."""

from facecast.character.asset import Character, create_character, load_character
from facecast.character.consent import ConsentRecord, load_consent

__all__ = ["Character", "ConsentRecord", "create_character", "load_character", "load_consent"]

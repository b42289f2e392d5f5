"""Consent records and character assets: built from real photos, validated on load."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from facecast.character.asset import create_character, load_character
from facecast.character.consent import ConsentRecord, load_consent
from facecast.errors import CharacterError, ConsentError, FaceNotFoundError
from facecast.media import open_plate, read_image, write_image

VALID = """
subject = "London 004"
granted_by = "Face Research Lab"
basis = "licensed"
production = "facecast tests"
"""


def consent_file(folder: Path, text: str = VALID, name: str = "consent.toml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def in_texture(character, ref_index: int, photo_mask: np.ndarray) -> np.ndarray:
    """``bool (S, S)``: the texels of `character`'s texture that reference `ref_index` sees
    inside ``photo_mask (H, W)`` (the reference photo's pixels, > 0 inside)."""
    from facecast.mesh.triangles import NUM_SURFACE_POINTS, mesh_triangles
    from facecast.mesh.warp import rasterize, sample

    texture, surface = character.texture, slice(0, NUM_SURFACE_POINTS)
    raster = rasterize(
        texture.uv[surface],
        character.ref_landmarks[ref_index][surface, :2],
        mesh_triangles(),
        (0, 0, texture.size, texture.size),
    )
    return (sample(photo_mask.astype(np.float32), raster) > 0.99) & raster.covered


@pytest.fixture(scope="module")
def character(tmp_path_factory):
    from conftest import find_data

    folder = tmp_path_factory.mktemp("character")
    refs = [find_data("faces/london/004/smiling.jpg"), find_data("faces/london/004/neutral.jpg")]
    return create_character(folder / "london-004", refs, consent_file(folder))


def test_consent_requires_every_field(tmp_path):
    path = consent_file(tmp_path, 'subject = "A"\nbasis = "self"\n')
    with pytest.raises(ConsentError, match="lacks granted_by, production"):
        load_consent(path)


def test_expired_consent_is_refused(tmp_path):
    path = consent_file(tmp_path, VALID + "expires = 2020-01-31\n")
    with pytest.raises(ConsentError, match="expired on 2020-01-31"):
        load_consent(path)


def test_consent_basis_must_be_known_or_declared(tmp_path):
    with pytest.raises(ConsentError, match="basis 'ok'"):
        load_consent(consent_file(tmp_path, VALID.replace('"licensed"', '"ok"')))
    declared = VALID.replace('"licensed"', '"Art. 6(1)(f) GDPR, legitimate interest"')
    assert load_consent(consent_file(tmp_path, declared)).basis.startswith("Art. 6")


def test_consent_file_that_is_not_toml(tmp_path):
    with pytest.raises(ConsentError, match="not valid TOML"):
        load_consent(consent_file(tmp_path, "subject: [unclosed"))


def test_consent_expiry_is_checked_against_the_given_day():
    record = ConsentRecord.from_dict(
        {
            "subject": "a",
            "granted_by": "b",
            "basis": "self",
            "production": "c",
            "expires": "2030-06-01",
        }
    )
    assert not record.is_expired(dt.date(2030, 6, 1))
    assert record.is_expired(dt.date(2030, 6, 2))


def test_character_orders_refs_neutral_first_and_keeps_consent(character):
    assert [r.source_name for r in character.refs] == ["neutral.jpg", "smiling.jpg"]
    assert character.consent.subject == "London 004"
    assert character.texture.image.shape == (512, 512, 3)
    assert character.ref_landmarks.shape == (2, 478, 3)


def test_texture_holds_the_characters_face_not_background(character):
    texture, weight = character.texture.image, character.texture.weight
    seen = weight > 0.3
    assert seen.mean() > 0.35  # most of the face area is covered by a reference
    # skin under good coverage is skin-coloured: red channel above blue
    assert np.median(texture[seen][:, 0] - texture[seen][:, 2]) > 0.05


def test_tampered_asset_is_refused(character, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(character.path, copy)
    texture = read_image(copy / "texture.png")
    texture[256, 256] = 65535 - texture[256, 256]
    write_image(copy / "texture.png", texture)
    with pytest.raises(CharacterError, match=r"texture\.png does not match its recorded hash"):
        load_character(copy)


def test_incomplete_asset_is_refused(character, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(character.path, copy)
    (copy / "geometry.safetensors").unlink()
    with pytest.raises(CharacterError, match=r"geometry\.safetensors is missing"):
        load_character(copy)


def test_unknown_format_version_is_refused(character, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(character.path, copy)
    manifest = json.loads((copy / "character.json").read_text())
    manifest["version"] = 99
    (copy / "character.json").write_text(json.dumps(manifest))
    with pytest.raises(CharacterError, match="version 99 is not supported"):
        load_character(copy)


@pytest.mark.parametrize(
    "damage",
    [
        lambda ref: ref.update(extra_key=1),
        lambda ref: ref.pop("pose"),
        lambda ref: ref.update(pose=[0.0, "up"]),
    ],
    ids=["unknown key", "no pose", "bad pose"],
)
def test_malformed_reference_entry_is_refused(character, tmp_path, damage):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(character.path, copy)
    manifest = json.loads((copy / "character.json").read_text())
    damage(manifest["refs"][0])
    (copy / "character.json").write_text(json.dumps(manifest))
    with pytest.raises(CharacterError, match="malformed 'refs' list"):
        load_character(copy)


def test_reference_without_a_face_is_refused_by_name(tmp_path, data):
    plate = open_plate(data("plates/tears_of_steel_10s.mp4"))
    street = next(frame for index, frame in enumerate(plate.frames()) if index == 10)
    photo = tmp_path / "street.png"
    write_image(photo, street)
    expected = r"street.png: no face found in this reference photo \(640x360 px\)"
    with pytest.raises(FaceNotFoundError, match=expected):
        create_character(tmp_path / "c", [photo], consent_file(tmp_path))
    assert not (tmp_path / "c").exists()


def test_reference_with_two_faces_is_refused(tmp_path, data):
    first = read_image(data("faces/london/004/neutral.jpg"))
    second = read_image(data("faces/london/012/neutral.jpg"))
    photo = tmp_path / "pair.jpg"
    write_image(photo, np.hstack([first, second])[::2, ::2])
    with pytest.raises(FaceNotFoundError, match=r"pair.jpg: 2 faces found"):
        create_character(tmp_path / "c", [photo], consent_file(tmp_path))


def test_a_photo_given_twice_is_refused_before_any_work(tmp_path, data):
    photo = data("faces/london/004/neutral.jpg")
    renamed = tmp_path / "copy_of_neutral.jpg"
    renamed.write_bytes(photo.read_bytes())
    expected = r"copy_of_neutral.jpg: the same photo as .*neutral.jpg \(give each reference once\)"
    with pytest.raises(CharacterError, match=expected):
        create_character(tmp_path / "c", [photo, renamed], consent_file(tmp_path))
    with pytest.raises(CharacterError, match=r"neutral.jpg: given twice"):
        create_character(tmp_path / "c", [photo, photo], consent_file(tmp_path))
    assert not (tmp_path / "c").exists()


def test_character_needs_consent(tmp_path, data):
    with pytest.raises(ConsentError, match="consent file does not exist"):
        create_character(
            tmp_path / "c", [data("faces/london/004/neutral.jpg")], tmp_path / "none.toml"
        )


def test_hair_over_the_forehead_is_left_out_of_the_texture(tmp_path, data):
    """A fringe painted over a real photo's forehead: the texture must not carry it."""
    from facecast.analysis import FaceAnalyzer

    photo = read_image(data("faces/london/004/neutral.jpg")).copy()
    with FaceAnalyzer(static_images=True) as analyzer:
        (face,) = analyzer.detect(photo)
    points = face.landmarks
    fringe = np.zeros(photo.shape[:2], np.float32)
    top, brows = int(points[10, 1]), int(points[[105, 334], 1].min())
    fringe[top : (top + brows) // 2, int(points[:, 0].min()) : int(points[:, 0].max())] = 1
    rng = np.random.default_rng(1)
    strands = rng.integers(25, 55, photo.shape[:2])[..., None] * np.array([1.0, 0.8, 0.6])
    photo = np.where(fringe[..., None] > 0, strands, photo).astype(np.uint8)
    path = tmp_path / "fringe.png"
    write_image(path, photo)
    clean = create_character(
        tmp_path / "clean", [data("faces/london/004/neutral.jpg")], consent_file(tmp_path)
    )
    hairy = create_character(tmp_path / "hairy", [path], consent_file(tmp_path))
    # where the painted fringe lands in texture space
    seen = in_texture(hairy, 0, fringe) & (clean.texture.weight > 0.2)
    assert seen.sum() > 500
    assert np.median(hairy.texture.weight[seen]) < 0.05
    # what fills it is skin-bright, not the hair's dark brown
    assert hairy.texture.image[seen].mean() > 0.8 * clean.texture.image[seen].mean()


def test_hair_over_one_photos_cheek_is_taken_from_a_photo_without_it(tmp_path, data):
    """A real webcam photo (lisa1) has strands of dark purple hair hanging over the subject's
    left cheek below the nose, where the skin model keeps every pixel (a beard belongs to the
    person). With a second photo whose cheek is bare (lisa2), the texture takes that region
    from the second photo where it sees the cheek well. Before, 55% of the strand texels stayed
    as dark as the strands (a dark purple streak down the side of every swapped face); now
    39%: the rest of them are dark in the second photo too, at the edge of the face."""

    strands_photo, bare_photo = data("faces/lisa/lisa1.jpg"), data("faces/lisa/lisa2.jpg")
    both = create_character(tmp_path / "both", [strands_photo, bare_photo], consent_file(tmp_path))
    photo = read_image(strands_photo)
    index = int(
        np.argmin([np.abs(ref.astype(int) - photo).mean() for ref in both.reference_images()])
    )
    points = both.ref_landmarks[index]
    # the strands in the photo: much darker than the skin, on the lower face beside the eyes
    lightness = cv2.cvtColor(photo, cv2.COLOR_RGB2Lab)[..., 0].astype(np.float32)
    rows, cols = np.mgrid[0 : photo.shape[0], 0 : photo.shape[1]]
    beside = (cols < points[33, 0]) | (cols > points[263, 0])
    below_nose = rows > points[195, 1]
    strands = beside & below_nose & (lightness < np.median(lightness[below_nose]) - 30)
    # ... where they land in the character's texture
    texture = both.texture
    landed = in_texture(both, index, strands) & (texture.weight > 0.5)
    assert landed.sum() > 500
    merged = cv2.cvtColor(texture.image, cv2.COLOR_RGB2Lab)[..., 0]
    skin = np.median(merged[texture.weight > 0.5])
    assert np.mean(merged[landed] < skin - 12) < 0.47


def test_a_references_glasses_are_left_out_of_the_texture(tmp_path, data):
    """The Grace Hopper portrait (public domain) shows tortoiseshell glasses with a black top
    bar along the brows and amber rims on the cheekbones: the amber reads as skin to the
    colour model, and the brows (kept whatever their colour) hid the bar, so the whole frame
    was unwrapped into the texture and every swap wore her glasses. A photo with a frame across
    the nose bridge now leaves the region of the glasses out of the texture (the actor's own
    skin, relit, shows there, or another reference's); photos without glasses are untouched."""
    from facecast.analysis import FaceAnalyzer
    from facecast.analysis.eyewear import frame_mask
    from facecast.character.skin import shows_glasses

    path = data("faces/portraits/grace_hopper_512x512.jpg")
    hopper = create_character(tmp_path / "hopper", [path], consent_file(tmp_path))
    photo, points = hopper.reference_images()[0], hopper.ref_landmarks[0]
    frames = frame_mask(photo, points) > 0.5  # the dark lines: top bar and arms
    texture = hopper.texture
    on_frames = in_texture(hopper, 0, frames)
    assert on_frames.sum() > 300
    # before: median weight 0.78, 62% of these texels above 0.5 (now 0.0 and 11%)
    assert np.median(texture.weight[on_frames]) < 0.05
    assert np.mean(texture.weight[on_frames] > 0.5) < 0.2
    assert hopper.refs[0].glasses and load_character(hopper.path).refs[0].glasses
    from conftest import run_facecast

    told = run_facecast(
        "character", "create", tmp_path / "cli", "--ref", path, "--consent", consent_file(tmp_path)
    )
    assert told.returncode == 0, told.stderr
    assert "reference(s) with glasses grace_hopper_512x512.jpg" in told.stdout
    # no false alarm on photos without glasses (their bridges read 0.007-0.027, the cut 0.045)
    with FaceAnalyzer(static_images=True) as analyzer:
        for name in ("london/004/neutral.jpg", "london/012/smiling.jpg", "lisa/lisa1.jpg"):
            image = read_image(data(f"faces/{name}"))
            (face,) = analyzer.detect(image)
            assert not shows_glasses(image, face.landmarks), name


def test_a_hand_in_front_of_a_references_face_is_left_out_of_the_texture(
    tmp_path, data, street_hand
):
    """A hand in a reference photo (a real one: the street plate's, pasted over London 004's
    lower cheek) is skin-coloured, and below the nose the skin model keeps every pixel (a
    beard belongs to the person), so it was unwrapped into the texture and every swap wore it
    on the cheek. mediapipe's hand landmarker finds it in the photo and its region gives the
    texture nothing: with a second photo the texture takes the cheek from that one; alone,
    the actor's own skin shows there (weight 0), never the hand. Measured when written, on the
    texels under the hand: alone, median weight 1.0 -> 0.0 (share above 0.5: 99.9% -> 2.5%);
    with the smiling photo, CIELAB distance to the texture of the two clean photos 13.3 ->
    6.8 mean (share above 10: 57% -> 19%; the rest is the smile against the neutral face)."""
    from conftest import paste_hand, run_facecast

    neutral, smiling = data("faces/london/004/neutral.jpg"), data("faces/london/004/smiling.jpg")
    (with_hand,), (paste,), _ = paste_hand(
        [read_image(neutral)], street_hand, 0.35, {234: 0.5, 152: 0.5}
    )
    photo = tmp_path / "neutral_with_hand.png"
    write_image(photo, with_hand)
    consent = consent_file(tmp_path)
    alone = create_character(tmp_path / "alone", [photo], consent)
    paired = create_character(tmp_path / "paired", [photo, smiling], consent)
    clean = create_character(tmp_path / "clean", [neutral, smiling], consent)

    on_hand = in_texture(alone, 0, paste > 0.5)
    assert on_hand.sum() > 2000
    weight = alone.texture.weight[on_hand]
    index = next(i for i, ref in enumerate(paired.refs) if ref.source_name == photo.name)
    on_hand = in_texture(paired, index, paste > 0.5)
    lab = [cv2.cvtColor(c.texture.image, cv2.COLOR_RGB2Lab) for c in (paired, clean)]
    delta_e = np.linalg.norm(lab[0][on_hand] - lab[1][on_hand], axis=1)
    assert np.median(weight) < 0.05 and np.mean(weight > 0.5) < 0.1
    assert delta_e.mean() < 9.5 and np.mean(delta_e > 10) < 0.3
    assert (alone.refs[0].hands, load_character(paired.path).refs[index].hands) == (1, 1)
    assert [ref.hands for ref in clean.refs] == [0, 0]
    told = run_facecast(
        "character", "create", tmp_path / "cli", "--ref", photo, "--consent", consent
    )
    assert told.returncode == 0, told.stderr
    assert "reference(s) with a hand in front of the face neutral_with_hand.png" in told.stdout


def _hard_shadow(photo: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`photo` (``uint8 RGB``) with a hard shadow over the right of the image (the subject's
    left cheek: a door frame's shadow), edged along the line from the brow's middle
    (landmark 9) to the chin (152) shifted a sixth of the eye distance toward the shadow:
    4x darker in linear light (gamma 2.2) behind a 3-pixel penumbra. Returns the shadowed
    photo and the mask a user paints over it, ``uint8 (H, W)``, 255 on the shadow and its
    penumbra."""
    top, bottom = points[9, :2], points[152, :2]
    along = (bottom - top) / np.linalg.norm(bottom - top)
    normal = np.array([along[1], -along[0]])  # points to the image's right
    eyes = float(np.linalg.norm(points[33, :2] - points[263, :2]))
    ys, xs = np.mgrid[0 : photo.shape[0], 0 : photo.shape[1]].astype(np.float32)
    depth = (xs - top[0]) * normal[0] + (ys - top[1]) * normal[1] - eyes / 6
    behind = np.clip(depth / 3.0 + 0.5, 0.0, 1.0)[..., None]
    linear = (photo.astype(np.float32) / 255.0) ** 2.2 * (1.0 - 0.75 * behind)
    shadowed = np.round(linear ** (1 / 2.2) * 255.0).astype(np.uint8)
    return shadowed, np.where(depth > -3.0, 255, 0).astype(np.uint8)


def test_a_hard_shadow_marked_by_a_mask_is_left_out_of_the_texture(tmp_path, data):
    """A hard shadow across a reference's face is skin in colour, so the texture takes it as
    the face's own and every swap wears a dark side with a light/dark line down the face.
    The user marks it with a mask (``--leave-out PHOTO=MASK``) and it gives the texture
    nothing: alone, the actor's own skin shows there (weight 0), with a second photo the
    texture takes that side from the other photo. Measured when written, on the texels
    behind the shadow: alone, median weight 1.0 without the mask, 0.0 with it (share above
    0.5: 74% -> 0%); with the smiling photo, CIELAB distance to the texture of the two clean
    photos 13.7 without the mask, 4.7 with it (share above 10: 65% -> 9%; the rest is the
    smile against the neutral face)."""
    from conftest import run_facecast
    from facecast.analysis import FaceAnalyzer
    from facecast.provenance.manifest import sha256_file

    neutral, smiling = data("faces/london/004/neutral.jpg"), data("faces/london/004/smiling.jpg")
    original = read_image(neutral)
    with FaceAnalyzer(static_images=True) as analyzer:
        (face,) = analyzer.detect(original)
    shadowed, painted = _hard_shadow(original, face.landmarks)
    photo, mask = tmp_path / "neutral_shadow.png", tmp_path / "neutral_shadow_mask.png"
    write_image(photo, shadowed)
    cv2.imwrite(str(mask), painted)
    # the same marks as a paint layer: black paint, opaque on the shadow, transparent elsewhere
    layer = tmp_path / "neutral_shadow_layer.png"
    cv2.imwrite(str(layer), np.dstack([np.zeros((*painted.shape, 3), np.uint8), painted]))
    consent = consent_file(tmp_path)
    masks = {photo: mask}
    built = {
        name: create_character(tmp_path / name, refs, consent, leave_out=leave_out)
        for name, refs, leave_out in (
            ("unmasked", [photo], None),
            ("alone", [photo], masks),
            ("paired_unmasked", [photo, smiling], None),
            ("paired", [photo, smiling], masks),
            ("clean", [neutral, smiling], None),
            ("painted", [photo], {photo: layer}),
        )
    }
    behind = in_texture(built["alone"], 0, painted > 0)
    assert behind.sum() > 10000
    weights = {name: built[name].texture.weight[behind] for name in ("unmasked", "alone")}
    assert np.median(weights["unmasked"]) > 0.9  # without the mask the shadow is the face's
    assert np.median(weights["alone"]) < 0.05 and np.mean(weights["alone"] > 0.5) < 0.1
    assert np.array_equal(built["painted"].texture.weight, built["alone"].texture.weight)

    def distance_to_clean(name: str) -> np.ndarray:
        character = built[name]
        index = next(i for i, ref in enumerate(character.refs) if ref.source_name == photo.name)
        texels = in_texture(character, index, painted > 0)
        ours, clean = (
            cv2.cvtColor(c.texture.image, cv2.COLOR_RGB2Lab) for c in (character, built["clean"])
        )
        return np.linalg.norm(ours[texels] - clean[texels], axis=1)

    unmasked, masked_pair = distance_to_clean("paired_unmasked"), distance_to_clean("paired")
    assert unmasked.mean() > 11.0 and np.mean(unmasked > 10) > 0.5
    assert masked_pair.mean() < 7.0 and np.mean(masked_pair > 10) < 0.2
    record = load_character(built["paired"].path).refs
    masked = next(ref for ref in record if ref.source_name == photo.name)
    assert 0.3 < masked.left_out < 0.7 and masked.mask_sha256 == sha256_file(mask)
    assert [(ref.left_out, ref.mask_sha256) for ref in built["clean"].refs] == [(0.0, "")] * 2

    told = run_facecast(
        "character", "create", tmp_path / "cli", "--ref", photo, "--consent", consent,
        "--leave-out", f"{photo}={mask}",
    )  # fmt: skip
    assert told.returncode == 0, told.stderr
    assert f"reference(s) with a mask neutral_shadow.png ({masked.left_out:.0%})" in told.stdout
    shown = run_facecast("character", "show", tmp_path / "cli")
    assert "masked: " in shown.stdout and "of the face left out" in shown.stdout


def test_a_mask_that_does_not_fit_its_reference_is_refused(tmp_path, data):
    """A mask for a photo that is not a reference, a mask of another aspect, a mask file that
    is missing and a mask over the whole face are refused in one line naming the file."""
    from conftest import run_facecast

    photo = data("faces/london/004/neutral.jpg")
    height, width = read_image(photo).shape[:2]
    consent = consent_file(tmp_path)
    wide, whole = tmp_path / "wide.png", tmp_path / "whole.png"
    cv2.imwrite(str(wide), np.zeros((height, 2 * width), np.uint8))
    cv2.imwrite(str(whole), np.full((height // 2, width // 2), 255, np.uint8))
    other = data("faces/london/004/smiling.jpg")
    cases = (
        (f"{other}={whole}", "smiling.jpg: has a mask but is not one of the --ref photos"),
        (f"{photo}={wide}", "wide.png: is 2700x1350 but its photo neutral.jpg is 1350x1350"),
        (f"{photo}={tmp_path / 'none.png'}", "none.png: mask file not found"),
        (f"{photo}={whole}", "neutral.jpg: the mask whole.png covers 100% of the face"),
        (f"{photo}", "is not PHOTO=MASK"),
    )
    for value, message in cases:
        told = run_facecast(
            "character", "create", tmp_path / "c", "--ref", photo, "--consent", consent,
            "--leave-out", value,
        )  # fmt: skip
        assert told.returncode != 0 and message in told.stderr, (value, told.stderr)
        assert not (tmp_path / "c").exists()


def test_highlight_enclosed_by_skin_is_kept_as_photographed(tmp_path, data):
    """A bright specular spot painted mid-forehead: the skin model rejects it, but clean skin
    surrounds it, so it is no occluder; the texture keeps it at full weight (not refilled, not
    left for the actor's skin to show through)."""
    import cv2

    from facecast.analysis import FaceAnalyzer

    photo = read_image(data("faces/london/004/neutral.jpg")).copy()
    with FaceAnalyzer(static_images=True) as analyzer:
        (face,) = analyzer.detect(photo)
    points = face.landmarks
    centre = points[151, :2]
    radius = 0.25 * float(np.linalg.norm(points[33, :2] - points[133, :2]))
    spot = np.zeros(photo.shape[:2], np.float32)
    cv2.circle(spot, tuple(int(v) for v in np.round(centre)), int(radius), 1.0, -1)
    photo[spot > 0] = (250, 246, 240)
    path = tmp_path / "highlight.png"
    write_image(path, photo)
    shiny = create_character(tmp_path / "shiny", [path], consent_file(tmp_path))
    covered = in_texture(shiny, 0, spot)
    assert covered.sum() > 50
    assert np.median(shiny.texture.weight[covered]) > 0.95
    assert shiny.texture.image[covered].mean() > 0.9  # the highlight itself, not a skin fill


def test_lids_are_kept_as_photographed(tmp_path, data):
    """Lashes, lid margins and eye corners are never skin-coloured, so the skin model rejects
    much of them; refilled, they showed as flat patches at the eye corners. Around each eye
    opening, out to the next ring of landmarks, the texture is the photo itself at full
    weight."""
    from facecast.character.texture import _lid_band

    path = data("faces/london/004/neutral.jpg")
    single = create_character(tmp_path / "single", [path], consent_file(tmp_path))
    texture = single.texture
    seen = in_texture(single, 0, np.ones(single.reference_images()[0].shape[:2]))
    band = _lid_band(texture.uv, texture.size) & seen
    assert band.sum() > 500
    assert np.all(texture.weight[band] == 1.0)
    # the band holds the lashes: far darker texels than the skin fill could give
    lightness = texture.image.mean(axis=2)
    assert np.percentile(lightness[band], 5) < 0.6 * np.median(lightness[seen])


def test_rejected_patch_beside_one_eye_is_kept_but_not_one_across_both(character):
    """A patch the skin model rejects next to one eye is lid skin (kept as photographed); one
    that runs across the bridge to the other eye could be glasses, and one reaching the
    outline could be hair (both refilled)."""
    import cv2

    from facecast.character.texture import _holes_beside_one_eye

    uv, size = character.texture.uv, character.texture.size
    coverage = np.ones((size, size), np.float32)
    gap = float(np.linalg.norm(uv[33] - uv[133]))
    beside = tuple(int(v) for v in np.round(uv[33] + (0, 0.25 * gap)))  # below an outer corner
    cv2.circle(coverage, beside, int(0.2 * gap), 0.0, -1)
    left, right = np.round(uv[[362, 133]]).astype(int)
    cv2.line(coverage, tuple(left), tuple(right), 0.0, 3)  # a bridge from eye to eye
    kept = _holes_beside_one_eye(coverage, uv)
    assert kept[beside[1], beside[0]]
    middle = np.round((uv[362] + uv[133]) / 2).astype(int)
    assert not kept[middle[1], middle[0]]


def _black_and_white(source: Path, target: Path) -> Path:
    grey = cv2.cvtColor(read_image(source), cv2.COLOR_RGB2GRAY)
    write_image(target, np.dstack([grey] * 3))
    return target


def _colour_difference(texture, reference) -> np.ndarray:
    """CIELAB a*b* distance per texel the reference texture shows well."""
    lab, reference_lab = (cv2.cvtColor(t.image, cv2.COLOR_RGB2LAB) for t in (texture, reference))
    shown = reference.weight > 0.5
    return np.linalg.norm(lab[..., 1:] - reference_lab[..., 1:], axis=-1)[shown]


def test_a_black_and_white_photo_gives_tone_and_the_colour_photo_colour(character, tmp_path, data):
    """An archival black-and-white print as the most neutral reference beside a colour photo:
    the texture keeps the colour photo's skin colour (it had come out grey: a*b* 13.4 units
    from the all-colour texture on average), while the print still anchors it (first ref)."""
    grey = _black_and_white(data("faces/london/004/neutral.jpg"), tmp_path / "archive_bw.png")
    refs = [grey, data("faces/london/004/smiling.jpg")]
    mixed = create_character(tmp_path / "mixed", refs, consent_file(tmp_path))
    assert [(r.source_name, r.monochrome) for r in mixed.refs] == [
        ("archive_bw.png", True),
        ("smiling.jpg", False),
    ]
    assert load_character(tmp_path / "mixed").texture.monochrome == (True, False)
    difference = _colour_difference(mixed.texture, character.texture)
    assert difference.mean() < 4.0
    only_grey = create_character(tmp_path / "grey", [grey], consent_file(tmp_path))
    assert _colour_difference(only_grey.texture, character.texture).mean() > 10.0
    assert not any(r.monochrome for r in character.refs)


def test_a_phone_photo_stored_sideways_is_read_upright(character, tmp_path, data):
    from PIL import Image

    upright = read_image(data("faces/london/004/neutral.jpg"))[:, 100:-100]  # not square
    photo = tmp_path / "phone.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # EXIF orientation: "turn 90 degrees clockwise to show"
    stored = np.ascontiguousarray(np.rot90(upright))  # as a phone held upright stores it
    Image.fromarray(stored).save(photo, exif=exif, quality=95)
    shown = read_image(photo)
    assert shown.shape == upright.shape
    assert np.abs(shown.astype(float) - upright).mean() < 3  # JPEG re-encoding only
    made = create_character(tmp_path / "c", [photo], consent_file(tmp_path))
    neutral = next(ref for ref in character.refs if ref.source_name == "neutral.jpg")
    # read sideways, the face was accepted with a roll of -72 degrees
    assert np.allclose(made.refs[0].pose, neutral.pose, atol=3)

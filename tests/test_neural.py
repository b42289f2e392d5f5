"""The neural engine on real data: training, exact resume, DDP, checkpoint safety, swapping.

The actor is weekly_address_clip1 (64 px faces), the character London person 004 (two photos,
widened with augmented copies and mesh-engine renders at the actor's poses). Models are tiny and
trained briefly on the CPU; identity is measured with the dlib descriptor (quality code), never
inside the engine.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from facecast.analysis import analyze_plate
from facecast.character.asset import create_character, load_character
from facecast.engines.neural import NeuralEngine, SmoothingSettings
from facecast.errors import ModelError
from facecast.media import open_plate, read_image
from facecast.neural.align import alignment_matrix, crop_box, warp_from_crop, warp_to_crop
from facecast.neural.checkpoint import Checkpoint, build_model, load_checkpoint, save_checkpoint
from facecast.neural.config import ModelConfig, TrainConfig
from facecast.neural.extract import ExtractSettings, extract_faceset
from facecast.neural.faceset import save_faceset
from facecast.neural.model import CombModel
from facecast.neural.train import read_log, reconstruction_error, train
from facecast.neural.workflow import CharacterData, character_faceset, train_character
from facecast.quality import dlibface
from facecast.quality.identity import distance_to
from facecast.quality.identity import load_character as load_character_identity
from facecast.render import RenderSettings, render_shot

PLATE = "plates/weekly_address_clip1.mp4"
CONSENT = Path(__file__).resolve().parents[1] / "examples" / "consent_london_004.toml"
SIZE = 64
#: Training budget of the shared model (about a minute on one busy core).
STEPS = 200
#: The last fifth of the clip is never trained on.
HELD_OUT = slice(92, 115)
#: Frames sampled for the (slow) dlib identity measurement.
IDENTITY_STRIDE = 8


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread: on two shared cores, two threads per process run several times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def plate_path():
    from conftest import find_data

    return find_data(PLATE)


@pytest.fixture(scope="module")
def character_dir(tmp_path_factory):
    from conftest import find_data

    folder = tmp_path_factory.mktemp("neural-char") / "person004"
    refs = [find_data("faces/london/004/neutral.jpg"), find_data("faces/london/004/smiling.jpg")]
    create_character(folder, refs, CONSENT)
    return folder


@pytest.fixture(scope="module")
def actor_faces(plate_path):
    return extract_faceset([plate_path], ExtractSettings(size=SIZE))[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, character_dir, actor_faces):
    """A model trained through `train_character` on the first 80% of the clip."""
    tmp = tmp_path_factory.mktemp("neural-model")
    training = actor_faces.select(range(HELD_OUT.start))
    faceset_dir = save_faceset(training, tmp / "actor")
    config = ModelConfig(resolution=SIZE, encoder_dims=16, ae_dims=64, decoder_dims=16)
    settings = TrainConfig(
        steps=STEPS, batch_size=8, learning_rate=1e-3, checkpoint_every=100, preview_every=100
    )
    summary = train_character(
        character_dir,
        faceset_dir,
        tmp / "model",
        config,
        settings,
        character_data=CharacterData(pose_renders=16),
    )
    return {"summary": summary, "dir": tmp / "model", "training": training}


@pytest.fixture(scope="module")
def tiny_data(actor_faces, character_dir):
    """Small identity data for the fast training-mechanics tests."""
    character = load_character(character_dir)
    actor = actor_faces.select(range(0, 115, 6))
    faces = character_faceset(character, actor, CharacterData(augment_copies=3))
    return [actor.identity_data("actor"), faces.identity_data("person004")]


TINY = ModelConfig(
    resolution=SIZE, identities=("actor", "person004"), encoder_dims=8, ae_dims=16, decoder_dims=8
)


def _tiny_settings(**changes) -> TrainConfig:
    values = {"steps": 24, "batch_size": 4, "learning_rate": 1e-3, "preview_every": 0}
    return TrainConfig(**{**values, **changes})


# -- training --------------------------------------------------------------------------------


def test_training_reduces_reconstruction_error_on_held_out_faces(trained, actor_faces):
    checkpoint = load_checkpoint(trained["dir"] / "model.safetensors")
    held_out = actor_faces.select(range(HELD_OUT.start, HELD_OUT.stop)).identity_data("actor")
    torch.manual_seed(0)  # the training seed: the same initial weights
    untrained = reconstruction_error(CombModel(checkpoint.model_config), held_out)
    model = build_model(checkpoint)
    after = reconstruction_error(model, held_out)
    seen = reconstruction_error(model, trained["training"].identity_data("actor"))
    assert after < 0.5 * untrained
    assert after < 1.3 * seen  # held-out faces are reconstructed about as well as trained ones


def test_training_writes_checkpoints_previews_and_a_log(trained):
    summary, folder = trained["summary"], trained["dir"]
    assert (summary.start_step, summary.end_step, summary.interrupted) == (0, STEPS, False)
    assert summary.final_model == folder / "model.safetensors"
    names = sorted(p.name for p in folder.glob("checkpoint_*.safetensors"))
    assert names == ["checkpoint_00000100.safetensors", "checkpoint_00000200.safetensors"]
    log = read_log(folder)
    assert [entry["step"] for entry in log] == list(range(1, STEPS + 1))
    assert all(entry["samples_per_s"] > 0 for entry in log)
    first, last = np.mean([e["loss"] for e in log[:10]]), np.mean([e["loss"] for e in log[-10:]])
    assert last < 0.7 * first
    # Preview grid: one row per preview face; the input, then its decoding by both decoders.
    grid = read_image(folder / "previews" / "step_00000200.png")
    assert grid.shape[1] == 3 * SIZE and grid.shape[0] % SIZE == 0 and grid.shape[0] >= 4 * SIZE
    checkpoint = load_checkpoint(folder / "checkpoint_00000200.safetensors")
    assert checkpoint.step == STEPS and checkpoint.optimizer_state is not None
    assert checkpoint.train_config.steps == STEPS
    assert checkpoint.model_config.identities == ("actor", "person004")
    assert checkpoint.extra["identities"]["person004"] == 2 + 16


def test_interrupted_run_resumes_on_the_same_loss_curve(tiny_data, tmp_path):
    settings = _tiny_settings(checkpoint_every=5)
    train(tmp_path / "full", tiny_data, TINY, settings)

    def stop_at_13(entry: dict) -> None:
        if entry["step"] == 13:
            raise KeyboardInterrupt

    part = train(tmp_path / "resumed", tiny_data, TINY, settings, on_step=stop_at_13)
    assert (part.end_step, part.interrupted, part.final_model) == (13, True, None)
    assert (tmp_path / "resumed" / "checkpoint_00000013.safetensors").is_file()
    rest = train(tmp_path / "resumed", tiny_data, TINY, settings)
    assert (rest.start_step, rest.end_step, rest.interrupted) == (13, 24, False)
    full_curve = [e["loss"] for e in read_log(tmp_path / "full")]
    resumed_curve = [e["loss"] for e in read_log(tmp_path / "resumed")]
    assert len(full_curve) == 24 and resumed_curve == full_curve
    a = load_checkpoint(tmp_path / "full" / "model.safetensors").model_state
    b = load_checkpoint(tmp_path / "resumed" / "model.safetensors").model_state
    assert all(torch.equal(a[name], b[name]) for name in a)


def test_crashed_run_resumes_from_its_last_checkpoint(tiny_data, tmp_path):
    settings = _tiny_settings(steps=16, checkpoint_every=5, keep_checkpoints=5)
    full = [e["loss"] for e in train(tmp_path / "full", tiny_data, TINY, settings).log]

    def crash_at_13(entry: dict) -> None:
        if entry["step"] == 13:
            raise RuntimeError("power cut")

    with pytest.raises(RuntimeError, match="power cut"):
        train(tmp_path / "crashed", tiny_data, TINY, settings, on_step=crash_at_13)
    assert len(read_log(tmp_path / "crashed")) == 13  # steps 11-13 are past the last checkpoint
    rest = train(tmp_path / "crashed", tiny_data, TINY, settings)
    assert rest.start_step == 10 and [e["step"] for e in rest.log] == list(range(11, 17))
    assert [e["loss"] for e in read_log(tmp_path / "crashed")] == full


def test_resume_with_other_settings_is_refused(tiny_data, tmp_path):
    train(tmp_path / "m", tiny_data, TINY, _tiny_settings(steps=3, checkpoint_every=3))
    with pytest.raises(ModelError, match="seed=0"):
        train(tmp_path / "m", tiny_data, TINY, _tiny_settings(steps=6, seed=1))
    other = ModelConfig(resolution=SIZE, identities=TINY.identities, encoder_dims=16)
    with pytest.raises(ModelError, match="model config"):
        train(tmp_path / "m", tiny_data, other, _tiny_settings(steps=6))
    longer = train(tmp_path / "m", tiny_data, TINY, _tiny_settings(steps=5, checkpoint_every=3))
    assert (longer.start_step, longer.end_step) == (3, 5)


def test_two_process_ddp_trains_and_writes_a_loadable_checkpoint(tiny_data, tmp_path):
    settings = _tiny_settings(steps=4, checkpoint_every=4)
    single = train(tmp_path / "one", tiny_data, TINY, settings)
    double = train(tmp_path / "two", tiny_data, TINY, settings, processes=2)
    assert double.end_step == 4 and not double.interrupted
    # Step 1 is computed before any update: rank 0 sees the same weights and batch.
    assert double.log[0]["loss"] == pytest.approx(single.log[0]["loss"], rel=1e-5)
    # From step 2 on, the weights carry gradients averaged with rank 1's different batch.
    assert double.log[1]["loss"] != pytest.approx(single.log[1]["loss"], rel=1e-4)
    checkpoint = load_checkpoint(double.final_model)
    assert checkpoint.extra["processes"] == 2 and checkpoint.step == 4
    model = build_model(checkpoint)
    faces = torch.from_numpy(tiny_data[0].rgb[:2].transpose(0, 3, 1, 2).astype(np.float32) / 255)
    rgb, mask = model.swap(faces, "person004")
    assert (
        rgb.shape == (2, 3, SIZE, SIZE) and torch.isfinite(rgb).all() and torch.isfinite(mask).all()
    )
    weights = load_checkpoint(single.final_model).model_state
    assert any(not torch.equal(weights[k], checkpoint.model_state[k]) for k in weights)


# -- checkpoint safety -------------------------------------------------------------------------


class _Payload:
    """Unpickling this creates a file: proof that a loader ran pickle."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_pickle_checkpoint_is_refused_without_unpickling(tmp_path):
    probe = tmp_path / "probe"
    pickle.loads(pickle.dumps(_Payload(probe)))
    assert probe.exists()  # the payload is live
    marker = tmp_path / "pwned"
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    torch.save({"encoder.weight": _Payload(marker)}, model_dir / "model.safetensors")
    with pytest.raises(ModelError, match="pickle"):
        NeuralEngine(model_dir)
    (model_dir / "model.safetensors").write_bytes(pickle.dumps({"w": _Payload(marker)}))
    with pytest.raises(ModelError, match="pickle"):
        load_checkpoint(model_dir / "model.safetensors")
    assert not marker.exists()


def _rewrite(path: Path, target: Path, **metadata: str) -> Path:
    with safe_open(str(path), framework="pt") as handle:
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
        meta = {**handle.metadata(), **metadata}
    save_file(tensors, str(target), metadata=meta)
    return target


def test_checkpoint_of_another_architecture_gives_a_clear_error(tmp_path):
    torch.manual_seed(0)
    path = save_checkpoint(
        Checkpoint(TINY, CombModel(TINY).state_dict()), tmp_path / "ok.safetensors"
    )
    assert load_checkpoint(path).model_config == TINY
    other = _rewrite(path, tmp_path / "other.safetensors", architecture="simswap/1")
    with pytest.raises(ModelError, match="architecture 'simswap/1'"):
        NeuralEngine(other)
    bigger = ModelConfig(resolution=128, identities=TINY.identities, encoder_dims=8, ae_dims=16)
    mismatch = _rewrite(
        path, tmp_path / "mismatch.safetensors", model_config=json.dumps(bigger.to_dict())
    )
    with pytest.raises(ModelError, match="does not match its architecture"):
        load_checkpoint(mismatch)
    save_file({"weight": torch.zeros(3)}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(ModelError, match="not a facecast neural checkpoint"):
        load_checkpoint(tmp_path / "plain.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    with pytest.raises(ModelError, match="not a valid safetensors"):
        load_checkpoint(tmp_path / "junk.safetensors")


# -- inference ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clip_tracks(plate_path):
    return analyze_plate(open_plate(plate_path), progress=False)


def test_engine_refuses_a_character_it_was_not_trained_for(trained):
    engine = NeuralEngine(trained["dir"])
    with pytest.raises(ModelError, match="person004"):
        engine.prepare("someone-else")


def test_crop_smoothing_removes_jitter_without_lagging(trained, clip_tracks, plate_path):
    faces = clip_tracks.faces_of(clip_tracks.main_track())
    frames = list(open_plate(plate_path).frames())

    def centres(engine: NeuralEngine) -> np.ndarray:
        engine.prepare("person004")
        points = []
        for index, frame in enumerate(frames):
            layer = engine.render(frame, faces[index])
            ys, xs = np.nonzero(layer.alpha > 0.5)
            points.append((xs.mean() + layer.box[0], ys.mean() + layer.box[1]))
        return np.array(points)

    raw = centres(NeuralEngine(trained["dir"], smoothing=None))
    smooth = centres(NeuralEngine(trained["dir"], smoothing=SmoothingSettings()))
    jitter = lambda c: np.linalg.norm(np.diff(c, n=2, axis=0), axis=1).mean()  # noqa: E731
    face_size = np.median([faces[i].size for i in faces])
    assert jitter(smooth) < 0.8 * jitter(raw)
    assert np.linalg.norm(smooth - raw, axis=1).mean() < 0.02 * face_size


def _descriptor(models, image: np.ndarray) -> np.ndarray | None:
    boxes = dlibface.detect_faces(models, image)
    if len(boxes) == 0:
        return None
    return dlibface.descriptor(models, image, dlibface.landmarks(models, image, boxes[0]))


def _low_res_plate(frame: np.ndarray, face) -> np.ndarray:
    """Control: the plate's own face through the same 64 px crop and back (no swap)."""
    from facecast.analysis import face_region_mask

    matrix = alignment_matrix(face.landmarks, SIZE)
    x0, y0, x1, y1 = box = crop_box(matrix, SIZE, frame.shape[:2])
    back = warp_from_crop(warp_to_crop(frame, matrix, SIZE).astype(np.float32), matrix, box)
    mask = face_region_mask(face.landmarks, frame.shape[:2])[y0:y1, x0:x1, None]
    out = frame.copy()
    out[y0:y1, x0:x1] = np.round(mask * back + (1 - mask) * frame[y0:y1, x0:x1]).astype(np.uint8)
    return out


def test_swap_on_the_clip_moves_identity_to_the_character(
    trained, character_dir, clip_tracks, plate_path, tmp_path
):
    tracks_file = clip_tracks.save(tmp_path / "tracks.json")
    output = tmp_path / "neural.mp4"
    settings = RenderSettings(engine="neural", model=str(trained["dir"]))
    result = render_shot(
        plate_path,
        character_dir,
        output,
        settings=settings,
        tracks_file=tracks_file,
        progress=False,
    )
    assert result.swapped_frames == 115
    models = dlibface.load_quality_models()
    character, _ = load_character_identity(models, character_dir)
    faces = clip_tracks.faces_of(clip_tracks.main_track())
    plate_frames, out_frames = (
        list(open_plate(plate_path).frames()),
        list(open_plate(output).frames()),
    )
    to_char = {"plate": [], "low_res_plate": [], "swap": []}
    for index in range(0, 115, IDENTITY_STRIDE):
        plate_desc = _descriptor(models, plate_frames[index])
        low_desc = _descriptor(models, _low_res_plate(plate_frames[index], faces[index]))
        swap_desc = _descriptor(models, out_frames[index])
        if plate_desc is None or low_desc is None or swap_desc is None:
            continue
        for key, desc in (("plate", plate_desc), ("low_res_plate", low_desc), ("swap", swap_desc)):
            to_char[key].append(float(distance_to(character, desc)[0]))
    assert len(to_char["swap"]) >= 12
    mean = {key: float(np.mean(values)) for key, values in to_char.items()}
    assert mean["swap"] < mean["plate"] - 0.1
    assert mean["swap"] < mean["low_res_plate"] - 0.1  # not just the loss of resolution


def test_engine_settings_name_the_model(trained):
    engine = NeuralEngine(trained["dir"])
    engine.prepare("person004")
    settings = engine.settings()
    assert settings["engine"] == "neural" and settings["identity"] == "person004"
    assert settings["resolution"] == SIZE and len(settings["model_sha256"]) == 64


# -- character data and the CLI ----------------------------------------------------------------


def test_character_folder_extracts_its_references(character_dir):
    faceset, report = extract_faceset([character_dir], ExtractSettings(size=SIZE))
    assert report.found == 2 and len(faceset) == 2
    assert {r.source for r in faceset.records} == {"refs/ref_00.png", "refs/ref_01.png"}
    assert (faceset.mask.reshape(2, -1).mean(axis=1) > 0.3 * 255).all()


def test_mesh_renders_put_the_character_on_actor_poses(character_dir, actor_faces):
    from facecast.neural.workflow import mesh_pose_faces

    actor = actor_faces.select(range(0, 115, 12))
    renders = mesh_pose_faces(load_character(character_dir), actor, count=5, seed=1)
    assert len(renders) == 5 and all(r.augmented == "mesh-render" for r in renders.records)
    frames = [r.frame for r in renders.records]
    originals = actor.select([[r.frame for r in actor.records].index(f) for f in frames])
    inside = renders.mask > 200
    outside = originals.mask == 0
    change = np.abs(renders.rgb.astype(int) - originals.rgb.astype(int)).mean(axis=-1)
    assert change[inside].mean() > 10  # the face is redrawn
    assert change[outside].max() == 0  # hair and background stay the actor crop's
    assert np.array_equal(renders.landmarks, originals.landmarks)


def test_train_cli_reports_a_bad_faceset_in_one_line(character_dir, tmp_path):
    import subprocess
    import sys

    (tmp_path / "not_a_faceset").mkdir()
    command = [sys.executable, "-m", "facecast", "train", "--character", str(character_dir)]
    run = subprocess.run(
        [*command, "--actor", str(tmp_path / "not_a_faceset"), "-o", str(tmp_path / "m")],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1
    assert run.stderr.strip().count("\n") == 0 and "is not a faceset" in run.stderr
    assert not (tmp_path / "m").exists()


def test_engine_hands_back_the_actors_eyes_and_mouth(trained, clip_tracks, plate_path):
    from facecast.analysis import topology

    faces = clip_tracks.faces_of(clip_tracks.main_track())
    frame = next(iter(open_plate(plate_path).frames()))
    engine = NeuralEngine(trained["dir"], keep_eyes_mouth=True)
    engine.prepare("person004")
    layer = engine.render(frame, faces[0])
    x0, y0 = layer.box[:2]

    def at(point: np.ndarray) -> float:
        return float(layer.keep_plate[round(point[1] - y0), round(point[0] - x0)])

    points = faces[0].landmarks[:, :2]
    for eye in (topology.LEFT_EYE, topology.RIGHT_EYE):
        assert at(points[eye].mean(axis=0)) > 0.5
    assert at(points[1]) == 0.0 and at(points[50]) == 0.0  # nose tip, cheek
    plain = NeuralEngine(trained["dir"])  # default: the model draws eyes and mouth
    plain.prepare("person004")
    assert plain.render(frame, faces[0]).keep_plate is None

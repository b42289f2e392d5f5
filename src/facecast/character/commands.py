"""``facecast character create|show``: build a character asset from photos and consent."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

character_app = typer.Typer(help="Build and inspect character assets.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Attach the ``character`` command group to the facecast app."""
    app.add_typer(character_app, name="character")


@character_app.command("create")
def create_command(
    folder: Annotated[
        Path, typer.Argument(help="Character folder to create (its id).", metavar="FOLDER")
    ],
    ref: Annotated[
        list[Path],
        typer.Option("--ref", help="Reference photo (repeat, 1-20).", show_default=False),
    ],
    consent: Annotated[Path, typer.Option(help="Consent record (TOML).")],
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    texture_size: Annotated[int, typer.Option(help="Face texture side in texels.")] = 512,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing character.")] = False,
    leave_out: Annotated[
        list[str] | None,
        typer.Option(
            "--leave-out",
            metavar="PHOTO=MASK",
            help="A mask of what not to use in one --ref photo (white: a hard shadow, a scar, "
            "a scratch on a print; or opaque paint on a transparent layer), an image of the "
            "photo's size or aspect (repeat per photo).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Build FOLDER from reference photos; refuses without a valid, unexpired consent record."""
    from facecast.character.asset import create_character

    character = create_character(
        folder,
        ref,
        consent,
        name=name,
        texture_size=texture_size,
        overwrite=overwrite,
        leave_out=_photo_masks(leave_out or []),
    )
    typer.echo(
        f"character {character.character_id!r}: {len(character.refs)} reference(s), "
        f"texture {character.texture.size}px, consent for {character.consent.subject!r} "
        f"({character.consent.basis}, {character.consent.production}, "
        f"expires {character.consent.expires or 'never'})"
    )
    if monochrome := [ref.source_name for ref in character.refs if ref.monochrome]:
        colour_from = (
            "the colour photos"
            if len(monochrome) < len(character.refs)
            else "the plate's light at swap time"
        )
        typer.echo(
            f"black-and-white reference(s) {', '.join(monochrome)}: tone and detail only; "
            f"the skin's colour comes from {colour_from}"
        )
    if glasses := [ref.source_name for ref in character.refs if ref.glasses]:
        typer.echo(_left_out("glasses", glasses, "the region of the glasses is"))
    if hands := [ref.source_name for ref in character.refs if ref.hands]:
        typer.echo(_left_out("a hand in front of the face", hands, "the hand is"))
    if masked := [f"{r.source_name} ({r.left_out:.0%})" for r in character.refs if r.mask_sha256]:
        typer.echo(_left_out("a mask", masked, "the masked share of the face is"))
    typer.echo(f"wrote {folder}")


def _photo_masks(values: list[str]) -> dict[Path, Path]:
    """``--leave-out PHOTO=MASK`` values as ``{photo: mask}``."""
    masks = {}
    for value in values:
        photo, separator, mask = value.rpartition("=")
        if not separator or not photo or not mask:
            raise typer.BadParameter(f"{value!r} is not PHOTO=MASK", param_hint="--leave-out")
        masks[Path(photo)] = Path(mask)
    return masks


def _left_out(occluder: str, names: list[str], region: str) -> str:
    """The line telling which references' `occluder` gave the texture nothing."""
    return (
        f"reference(s) with {occluder} {', '.join(names)}: {region} left out of the texture "
        "(taken from the other references where they show it, else the actor's own skin shows "
        "there, relit)"
    )


@character_app.command("show")
def show_command(
    folder: Annotated[Path, typer.Argument(help="Character folder.", metavar="FOLDER")],
) -> None:
    """Validate a character folder and print what it holds."""
    from facecast.character.asset import load_character

    character = load_character(folder)
    consent = character.consent
    typer.echo(
        f"id: {character.character_id}  name: {character.name}  created: {character.created}"
    )
    typer.echo(
        f"consent: subject={consent.subject!r} granted_by={consent.granted_by!r} "
        f"basis={consent.basis!r} production={consent.production!r} "
        f"expires={consent.expires or 'never'}{' (EXPIRED)' if consent.is_expired() else ''}"
    )
    for ref in character.refs:
        yaw, pitch, _roll = ref.pose
        grey = ", black-and-white: tone only" if ref.monochrome else ""
        grey += ", glasses: their region left out" if ref.glasses else ""
        grey += f", {ref.hands} hand(s) in front of the face: left out" if ref.hands else ""
        grey += f", masked: {ref.left_out:.0%} of the face left out" if ref.mask_sha256 else ""
        typer.echo(
            f"ref: {ref.file} from {ref.source_name} (yaw {yaw:+.0f}, pitch {pitch:+.0f}{grey})"
        )

"""The ``facecast verify`` and ``facecast ledger`` commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

_LEDGER_HELP = "The project's consent ledger (.facecast/ledger.jsonl)."


def register(app: typer.Typer) -> None:
    """Add ``verify`` and the ``ledger`` group to the facecast command line."""
    app.command("verify")(verify)
    ledger = typer.Typer(help=_LEDGER_HELP, no_args_is_help=True)
    ledger.command("check")(ledger_check)
    ledger.command("show")(ledger_show)
    app.add_typer(ledger, name="ledger")


def verify(
    path: Annotated[
        Path, typer.Argument(help="Video, image or image-sequence folder.", metavar="PATH")
    ],
    trust: Annotated[
        Path | None, typer.Option("--trust", help="PEM file of CA certificates to trust.")
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Watermark key seed (default: facecast's).")
    ] = None,
    frames: Annotated[
        int, typer.Option("--frames", min=1, help="Most video frames to examine.")
    ] = 96,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON report.")] = False,
) -> None:
    """Read the watermark and C2PA credentials of a file.

    Exit status: 0 verified (or watermark only), 2 the file claims provenance that does not
    verify (tampered), 3 no facecast watermark and no C2PA manifest found, 1 unreadable input.
    """
    from facecast.provenance.verify import verify_file
    from facecast.provenance.watermark import WatermarkKey

    key = WatermarkKey() if seed is None else WatermarkKey(seed)
    report = verify_file(path, key, trust_anchors=trust, max_frames=frames)
    if as_json:
        typer.echo(json.dumps(_as_dict(report), indent=2))
    else:
        for line in _describe(report):
            typer.echo(line)
    raise typer.Exit(report.exit_status)


def _describe(report) -> list[str]:
    lines = [f"{report.path}"]
    mark = report.watermark
    if mark is None:
        lines.append("  watermark: not examined (frames unreadable)")
    elif mark.found:
        lines.append(
            f"  watermark: found, render id {mark.render_id} (confidence {mark.confidence:.2f}, "
            f"read in {mark.frames_found} of {mark.frames} frames on their own)"
        )
    else:
        lines.append(f"  watermark: not found ({mark.frames} frames examined)")
    cred = report.credentials
    if not cred.present:
        lines.append("  C2PA: no manifest")
    else:
        state = ("valid, trusted" if cred.trusted else "valid") if cred.valid else "INVALID"
        frames = cred.sequence or {}
        where = ""
        if "signed" in frames:  # a sequence folder
            where = f" in {frames['signed']} of {frames['frames']} frames"
        elif "frame" in frames:  # one frame of a signed sequence
            where = f" (frame {frames['frame']} of a {frames['frames']}-frame sequence)"
        lines.append(f"  C2PA: manifest present{where}, {state}; signer {cred.signer}")
        for action in cred.actions:
            source = str(action.get("digitalSourceType") or "").rsplit("/", 1)[-1]
            lines.append(f"    action {action.get('action')}" + (f" ({source})" if source else ""))
        if cred.render_id:
            lines.append(f"    render id {cred.render_id}")
        if cred.consent is not None:
            lines.append(f"    consent {json.dumps(cred.consent, sort_keys=True)}")
    if report.label:
        lines.append(f"  label: {report.label}")
    lines += [f"  problem: {problem}" for problem in report.problems]
    lines += [f"  note: {note}" for note in report.notes]
    lines.append(f"  verdict: {report.verdict}")
    return lines


def _as_dict(report) -> dict:
    mark, cred = report.watermark, report.credentials
    return {
        "path": str(report.path),
        "verdict": report.verdict,
        "ok": report.ok,
        "claims_provenance": report.claims_provenance,
        "watermark": None
        if mark is None
        else {
            "found": mark.found,
            "render_id": mark.render_id,
            "confidence": round(mark.confidence, 4),
            "frames": mark.frames,
            "frames_found": mark.frames_found,
        },
        "c2pa": {
            "present": cred.present,
            "valid": cred.valid,
            "trusted": cred.trusted,
            "signer": cred.signer,
            "actions": cred.actions,
            "render_id": cred.render_id,
            "consent": cred.consent,
            "errors": cred.errors,
            "sequence": cred.sequence,
        },
        "problems": report.problems,
        "notes": report.notes,
        "label": report.label,
    }


def ledger_check(
    project: Annotated[
        Path, typer.Option("--project", help="Project folder (default: current folder).")
    ] = Path("."),
) -> None:
    """Verify the hash chain of the consent ledger; exit 2 if it was tampered with."""
    from facecast.provenance.ledger import Ledger

    result = Ledger(project).check()
    if result.ok:
        typer.echo(f"ledger ok: {result.entries} entries, head {result.head_hash}")
        return
    typer.echo(f"ledger FAILED: {result.entries} entries, {len(result.problems)} problems")
    for problem in result.problems:
        typer.echo(f"  {problem}")
    raise typer.Exit(2)


def ledger_show(
    project: Annotated[
        Path, typer.Option("--project", help="Project folder (default: current folder).")
    ] = Path("."),
) -> None:
    """List the renders recorded in the consent ledger (unverified; see `ledger check`)."""
    from facecast.provenance.ledger import Ledger

    for entry in Ledger(project).entries():
        typer.echo(
            f"{entry.get('seq')}\t{entry.get('time')}\t{entry.get('render_id')}\t"
            f"{entry.get('character')}"
        )

"""The `facecast` command: thin wrappers that parse arguments, call the library, show progress.

Every command turns a `FacecastError` into one line on stderr and exit status 1. Help and
usage errors are Click's plain text (``rich_markup_mode=None``): Typer's Rich panels cut long
option names short in an 80-column terminal (``--shape-streng…``) and boxed a usage error
over three lines.
"""

from __future__ import annotations

import os
import sys

import typer

from facecast.errors import FacecastError

app = typer.Typer(
    name="facecast",
    help="Cinematic face replacement with consent and provenance built in.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


def _register_commands() -> None:
    """Attach each stage's commands (each package keeps its own `commands.py`)."""
    # Registration lines: one per package, added as the packages land.
    from facecast.analysis.commands import register as register_analysis

    register_analysis(app)
    from facecast.character.commands import register as register_character

    register_character(app)
    from facecast.swap_commands import register as register_swap

    register_swap(app)
    from facecast.quality.commands import register as register_quality

    register_quality(app)
    from facecast.provenance.commands import register as register_provenance

    register_provenance(app)
    from facecast.neural.commands import register as register_neural

    register_neural(app)


def _quiet_native_logs() -> None:
    """Send what native libraries write straight to file descriptor 2 (TensorFlow Lite and absl
    start-up chatter from mediapipe) to /dev/null, keeping Python's own stderr (errors, progress
    bars) on the terminal. Set ``FACECAST_NATIVE_LOGS=1`` to see the native logs."""
    if os.environ.get("FACECAST_NATIVE_LOGS") == "1":
        return
    try:
        python_stderr = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return
    os.dup2(devnull, 2)
    os.close(devnull)
    sys.stderr = os.fdopen(python_stderr, "w", buffering=1)


def main() -> None:
    """Run the facecast command line; user errors become one line and exit status 1."""
    _quiet_native_logs()
    _register_commands()
    try:
        app()
    except FacecastError as error:
        print(f"facecast: error: {error}", file=sys.stderr)
        sys.exit(1)

"""``python -m facecast``: the same as the ``facecast`` command."""

from facecast.cli import main

main()

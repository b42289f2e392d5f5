"""Keep mediapipe's native start-up chatter off the terminal.

mediapipe's C++ side logs through absl before any log set-up exists, straight to file
descriptor 2 ("Created TensorFlow Lite XNNPACK delegate", "Feedback manager requires a model
with a single signature", ...), and no environment variable turns that off in 0.10.21. Those
lines would break the promise that a failed command prints one line. Graph creation and the
first inference of each graph run inside `native_stderr_silenced`, which points descriptor 2 at
``/dev/null`` for that moment only; everything later reaches stderr as usual.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["QuietGraph", "native_stderr_silenced"]


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Silence file descriptor 2 (native and Python stderr) inside the ``with`` block.

    Python exceptions raised inside still propagate and are reported after the block, since
    the descriptor is restored on every path. Set ``FACECAST_NATIVE_LOGS=1`` to keep the logs.
    """
    if os.environ.get("FACECAST_NATIVE_LOGS") == "1":
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable descriptor 2 (embedded interpreters)
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            try:
                yield
            finally:
                with contextlib.suppress(ValueError, OSError):
                    sys.stderr.flush()
                os.dup2(saved, 2)
    finally:
        os.close(saved)


class QuietGraph:
    """A mediapipe solution whose construction and first `process` call run silenced.

    Parameters
    ----------
    factory
        Builds the solution (e.g. ``lambda: FaceDetection(model_selection=1)``).
    """

    def __init__(self, factory: Callable[[], Any]) -> None:
        with native_stderr_silenced():
            self.graph = factory()
        self._started = False

    def process(self, data: Any) -> Any:
        """The solution's ``process``; the first call runs with stderr silenced."""
        if self._started:
            return self.graph.process(data)
        with native_stderr_silenced():
            result = self.graph.process(data)
        self._started = True
        return result

    def close(self) -> None:
        """Close the solution."""
        self.graph.close()

"""Encode on a background thread while the next frame is being rendered.

FFmpeg's encoders release the GIL, so a render loop that hands finished frames to this wrapper
keeps both cores busy: one thread swaps faces (numpy, OpenCV, mediapipe), the other encodes.
Frames are written in the order given, so the output bytes are the same as with the plain
writer; the queue is bounded, so memory stays flat.
"""

from __future__ import annotations

import queue
import threading
from typing import Protocol

_DONE = object()


class FrameWriter(Protocol):
    """What `BackgroundWriter` wraps: `VideoWriter` or `SequenceWriter`."""

    def write(self, frame) -> None: ...
    def close(self): ...
    def abort(self) -> None: ...


class BackgroundWriter:
    """Run one or more writers' ``write`` calls on a worker thread.

    Parameters
    ----------
    writers
        Writers fed by `write` (one frame per writer per call, in this order). The wrapper owns
        them: leaving its context closes them, or aborts them if the block raised.
    depth
        Most frame sets waiting to be encoded.
    """

    def __init__(self, *writers: FrameWriter, depth: int = 4) -> None:
        self._writers = writers
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="facecast-encode", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._queue.get()) is not _DONE:
            if self._error is None:
                try:
                    for writer, frame in zip(self._writers, item, strict=True):
                        writer.write(frame)
                except BaseException as error:  # handed to the producer on its next call
                    self._error = error

    def write(self, *frames) -> None:
        """Queue one frame for each writer (blocks while the queue is full)."""
        self._raise_pending()
        self._queue.put(frames)

    def _raise_pending(self) -> None:
        if self._error is not None:
            raise self._error

    def _stop(self) -> None:
        self._queue.put(_DONE)
        self._thread.join()

    def __enter__(self) -> BackgroundWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._stop()
        if exc_type is None and self._error is None:
            for writer in self._writers:
                writer.close()
            return
        for writer in self._writers:
            writer.abort()
        self._raise_pending()

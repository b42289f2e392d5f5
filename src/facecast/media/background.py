"""Decode ahead and encode behind on background threads while the current frame is worked on.

FFmpeg's decoders, pixel-format conversions and encoders release the GIL, so a loop that reads
its frames through `read_ahead` and hands finished ones to `BackgroundWriter` keeps both cores
busy: the main thread analyses or swaps faces (numpy, OpenCV, mediapipe), the others decode and
encode. Frames keep their order, so the results and output bytes are the same as with plain
loops; the queues are bounded, so memory stays flat.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Protocol, TypeVar

_DONE = object()
#: How often (seconds) a blocked reader thread checks whether its consumer has gone.
_POLL_SECONDS = 0.05

Item = TypeVar("Item")


def read_ahead(items: Iterable[Item], depth: int = 2) -> Iterator[Item]:
    """Yield the items of `items` in order, produced on a worker thread up to `depth` ahead.

    Typical use is ``read_ahead(plate.frames())``: the next frames decode while the current
    one is being processed. An exception raised by `items` (a truncated file) is raised here,
    at the position it happened. Leaving the loop early stops the worker and closes `items`.
    """
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(entry: tuple) -> bool:
        while not stop.is_set():
            try:
                ready.put(entry, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        source = iter(items)
        try:
            for item in source:
                if not offer((True, item)):
                    return
            offer((False, None))
        except BaseException as error:  # handed to the consumer at this position
            offer((False, error))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="facecast-read", daemon=True)
    worker.start()
    try:
        while True:
            is_item, value = ready.get()
            if not is_item:
                if value is not None:
                    raise value
                return
            yield value
    finally:
        stop.set()
        worker.join()


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

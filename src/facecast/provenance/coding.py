"""Channel coding for the watermark payload: CRC-32 plus a rate-1/3 convolutional code.

A 64-bit payload gains a 32-bit CRC (so a random or wrong decode passes with probability
2**-32) and six zero tail bits, and is encoded with the constraint-length-7 convolutional code
of LTE (generators 133, 171, 165 octal). `decode_soft` runs a soft-decision Viterbi decoder, so
weak per-chip evidence from a degraded frame still decodes.

References
----------
3GPP TS 36.212, section 5.1.3.1 (tail-biting convolutional coding; here zero-tailed).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

PAYLOAD_BITS = 64
CRC_BITS = 32
CONSTRAINT = 7
GENERATORS = (0o133, 0o171, 0o165)
INFO_BITS = PAYLOAD_BITS + CRC_BITS
CODED_BITS = len(GENERATORS) * (INFO_BITS + CONSTRAINT - 1)
_STATES = 1 << (CONSTRAINT - 1)
_CRC_DOMAIN = b"facecast-watermark-v1"


@dataclass(frozen=True)
class Decoded:
    """Result of decoding one soft codeword.

    Attributes
    ----------
    payload
        The 8 payload bytes when the CRC matches, else ``None``.
    agreement
        Normalised correlation in [-1, 1] between the soft input and the re-encoded decision:
        near 1 for a clean watermark, near 0.2 for noise (Viterbi always finds something).
    """

    payload: bytes | None
    agreement: float


def _crc(payload: bytes) -> int:
    return zlib.crc32(_CRC_DOMAIN + payload) & 0xFFFFFFFF


def _bits(value: bytes) -> np.ndarray:
    return np.unpackbits(np.frombuffer(value, dtype=np.uint8))


def _parity_table() -> np.ndarray:
    """Output bits ``(2 * states, n_outputs)`` for each (state, input) pair, as 0/1 ``uint8``.

    The register holds the newest bit in its top position; state = the 6 previous bits.
    """
    table = np.zeros((2 * _STATES, len(GENERATORS)), dtype=np.uint8)
    for state in range(_STATES):
        for bit in (0, 1):
            register = (bit << (CONSTRAINT - 1)) | state
            for k, generator in enumerate(GENERATORS):
                table[2 * state + bit, k] = bin(register & generator).count("1") & 1
    return table


def encode_payload(payload: bytes) -> np.ndarray:
    """Encode 8 payload bytes into the coded bit sequence.

    Parameters
    ----------
    payload
        Exactly 8 bytes (64 bits).

    Returns
    -------
    numpy.ndarray
        ``(CODED_BITS,)`` ``int8`` chips in {-1, +1} (bit 1 -> +1).
    """
    if len(payload) != PAYLOAD_BITS // 8:
        raise ValueError(f"watermark payload must be {PAYLOAD_BITS // 8} bytes, got {len(payload)}")
    return _convolve(np.concatenate([_bits(payload), _bits(_crc(payload).to_bytes(4, "big"))]))


def _convolve(info: np.ndarray) -> np.ndarray:
    """Zero-tailed convolutional encoding of ``(INFO_BITS,)`` 0/1 bits to {-1, +1} chips."""
    info = np.concatenate([info.astype(np.uint8), np.zeros(CONSTRAINT - 1, np.uint8)])
    table = _parity_table()
    out = np.empty((len(info), len(GENERATORS)), dtype=np.uint8)
    state = 0
    for i, bit in enumerate(info):
        out[i] = table[2 * state + bit]
        state = (int(bit) << (CONSTRAINT - 2)) | (state >> 1)
    return out.reshape(-1).astype(np.int8) * 2 - 1


def decode_soft(soft: np.ndarray) -> Decoded:
    """Soft-decision Viterbi decode of ``(CODED_BITS,)`` float evidence (positive = bit 1).

    Returns
    -------
    Decoded
        The payload if its CRC matches, and how well the decision agrees with the evidence.
    """
    soft = np.asarray(soft, dtype=np.float64)
    if soft.shape != (CODED_BITS,):
        raise ValueError(f"expected soft input of shape ({CODED_BITS},), got {soft.shape}")
    steps = soft.reshape(-1, len(GENERATORS))
    signs = _parity_table().astype(np.float64) * 2 - 1  # (2*states, n_out)
    states = np.arange(_STATES)
    # transition (state, bit) -> next state
    nxt = np.stack([(b << (CONSTRAINT - 2)) | (states >> 1) for b in (0, 1)], axis=1).reshape(-1)
    order = np.argsort(nxt, kind="stable").reshape(_STATES, 2)  # the two ways into each state
    metric = np.full(_STATES, -np.inf)
    metric[0] = 0.0
    back = np.empty((len(steps), _STATES), dtype=np.int16)
    for i, chips in enumerate(steps):
        candidate = np.repeat(metric, 2) + signs @ chips  # index = 2 * state + bit
        choice = np.argmax(candidate[order], axis=1)
        back[i] = order[states, choice]
        metric = candidate[back[i]]
    bits = np.empty(len(steps), dtype=np.uint8)
    state = 0  # zero tail: the encoder ends in state 0
    for i in range(len(steps) - 1, -1, -1):
        transition = back[i, state]
        bits[i] = transition & 1
        state = transition >> 1
    decision = bits[:INFO_BITS]
    payload = np.packbits(decision[:PAYLOAD_BITS]).tobytes()
    crc = int.from_bytes(np.packbits(decision[PAYLOAD_BITS:]).tobytes(), "big")
    norm = float(np.linalg.norm(soft)) * np.sqrt(CODED_BITS)
    agreement = float(soft @ _convolve(decision) / norm) if norm > 0 else 0.0
    return Decoded(payload if crc == _crc(payload) else None, agreement)

"""Turning numpy columns into Arrow columns without Python-level loops."""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa

MONEY = pa.decimal128(12, 2)


def money(cents: np.ndarray) -> pa.Array:
    """Integer cents to DECIMAL(12,2), exactly: cents are the decimal's unscaled value."""
    cents = np.ascontiguousarray(cents, dtype=np.int64)
    words = np.stack([cents, cents >> 63], axis=1)  # little-endian int128: low word, sign word
    return pa.Array.from_buffers(MONEY, len(cents), [None, pa.py_buffer(words.tobytes())])


def timestamps(day: date, seconds: np.ndarray) -> pa.Array:
    """Seconds after midnight of `day` as UTC microsecond timestamps."""
    base = np.datetime64(day, "us")
    return pa.array(
        base + (seconds * 1_000_000).astype("timedelta64[us]"), pa.timestamp("us", "UTC")
    )


def epoch_seconds(day: date) -> int:
    return int((np.datetime64(day, "s") - np.datetime64(0, "s")).astype(np.int64))

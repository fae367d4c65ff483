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


def epoch_timestamps(epoch_seconds_array: np.ndarray) -> pa.Array:
    """Seconds since 1970 as UTC microsecond timestamps."""
    micros = np.asarray(epoch_seconds_array, dtype=np.int64) * 1_000_000
    return pa.array(micros, pa.int64()).cast(pa.timestamp("us", "UTC"))


def labels(values: np.ndarray, index: np.ndarray) -> pa.Array:
    """values[index] as a dictionary-encoded string column: no string is copied per row."""
    indices = pa.array(np.asarray(index, dtype=np.int32))
    return pa.DictionaryArray.from_arrays(indices, pa.array(values, pa.string()))

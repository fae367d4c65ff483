"""What a simulation is a pure function of."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np


@dataclass(frozen=True)
class SimulationConfig:
    seed: int = 42
    scale_factor: float = 1.0
    start_date: date = date(2024, 1, 1)
    days: int = 730

    @property
    def end_date(self) -> date:
        return self.start_date + timedelta(days=self.days - 1)

    def day(self, index: int) -> date:
        return self.start_date + timedelta(days=index)

    def rng(self, stream: str, day: date | None = None) -> np.random.Generator:
        """An independent generator per (seed, stream, day): day d never depends on other days."""
        key = [self.seed, zlib.crc32(stream.encode())]
        if day is not None:
            key.append(day.toordinal())
        return np.random.default_rng(key)

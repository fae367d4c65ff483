"""Word pools built once per seed with Faker; rows then index into them with numpy."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from faker import Faker

POOL_SIZE = 400


@dataclass(frozen=True)
class Pools:
    first_names: np.ndarray
    last_names: np.ndarray
    cities: np.ndarray
    countries: np.ndarray
    email_domains: np.ndarray
    product_words: np.ndarray


def build_pools(seed: int) -> Pools:
    """Deterministic pools: one Faker instance seeded here, never shared at module level."""
    fake = Faker("en_US")
    fake.seed_instance(seed)

    def unique(make, size: int) -> np.ndarray:
        values: list[str] = []
        seen: set[str] = set()
        while len(values) < size:
            value = make()
            if value not in seen:
                seen.add(value)
                values.append(value)
        return np.array(values)

    return Pools(
        first_names=unique(fake.first_name, POOL_SIZE),
        last_names=unique(fake.last_name, POOL_SIZE),
        cities=unique(fake.city, POOL_SIZE // 4),
        countries=np.array(["US", "US", "US", "US", "CA", "GB", "DE", "FR", "AU", "NL"]),
        email_domains=np.array(["example.com", "example.org", "example.net", "mail.example"]),
        product_words=unique(lambda: fake.word().capitalize(), POOL_SIZE // 2),
    )

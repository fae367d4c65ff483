"""The product catalog: grows with the square root of the scale; prices and stock move daily."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from generators.arrow import epoch_seconds, epoch_timestamps, money
from generators.config import CHUNK_DAYS, SimulationConfig
from generators.pools import Pools
from generators.weights import PRODUCTS_AT_SCALE_1

# Category: (median price in dollars, price spread as lognormal sigma, nouns for titles).
CATEGORIES: dict[str, tuple[float, float, tuple[str, ...]]] = {
    "electronics": (120.0, 0.8, ("Headphones", "Speaker", "Monitor", "Keyboard", "Charger")),
    "jewelery": (90.0, 0.9, ("Ring", "Necklace", "Bracelet", "Earrings", "Pendant")),
    "men's clothing": (40.0, 0.5, ("Jacket", "Shirt", "Chinos", "Hoodie", "Sneakers")),
    "women's clothing": (45.0, 0.5, ("Dress", "Blouse", "Coat", "Skirt", "Boots")),
    "home & kitchen": (35.0, 0.7, ("Pan", "Kettle", "Lamp", "Blender", "Knife Set")),
    "sports & outdoors": (55.0, 0.7, ("Tent", "Yoga Mat", "Backpack", "Bottle", "Bike Light")),
    "books": (18.0, 0.4, ("Novel", "Cookbook", "Guide", "Atlas", "Biography")),
    "beauty": (25.0, 0.6, ("Serum", "Perfume", "Lipstick", "Cream", "Shampoo")),
}
CATEGORY_NAMES = np.array(list(CATEGORIES))
ZIPF_EXPONENT = 0.8  # product popularity: a long tail, not a cliff
MIN_PRICE_CENTS, MAX_PRICE_CENTS = 199, 250_000


def product_count(scale_factor: float) -> int:
    return max(len(CATEGORIES) * 2, round(PRODUCTS_AT_SCALE_1 * math.sqrt(scale_factor)))


def _shop_price(cents: np.ndarray) -> np.ndarray:
    """Clip to the shop's range and end every price in .99."""
    cents = np.clip(np.round(cents), MIN_PRICE_CENTS, MAX_PRICE_CENTS).astype(np.int64)
    return (cents // 100) * 100 + 99


@dataclass(frozen=True)
class Catalog:
    attributes: pa.Table  # what never changes: id, title, description, category, image, rating
    popularity: np.ndarray  # probability that a viewed or bought product is this one
    price_cents: np.ndarray  # [days, products] price in effect on each day
    stock: np.ndarray  # [days, products] stock on hand at the start of each day
    changed_day: np.ndarray  # [days, products] index of the last day price or stock changed
    first_epoch: int

    def snapshot(self, day_index: int) -> pa.Table:
        """The catalog as the REST API serves it on a day."""
        updated = self.first_epoch + self.changed_day[day_index] * 86_400
        return (
            self.attributes.append_column("price", money(self.price_cents[day_index]))
            .append_column("stock_quantity", pa.array(self.stock[day_index]))
            .append_column("updated_at", epoch_timestamps(updated))
        )


def simulate_catalog(config: SimulationConfig, pools: Pools) -> Catalog:
    """What never changes from one generator; each block of days from its own (see config)."""
    realism = config.realism
    rng = config.rng("catalog")
    count = product_count(config.scale_factor)
    product_id = np.arange(1, count + 1, dtype=np.int64)
    category_index = np.arange(count) % len(CATEGORIES)
    rng.shuffle(category_index)
    specs = list(CATEGORIES.values())
    medians = np.array([spec[0] for spec in specs])[category_index]
    sigmas = np.array([spec[1] for spec in specs])[category_index]
    base_price = _shop_price(rng.lognormal(np.log(medians), sigmas) * 100)
    adjectives = pools.product_words[rng.integers(0, len(pools.product_words), count)]
    noun_index = rng.integers(0, 5, count)
    titles = [
        f"{adjective} {specs[c][2][n]} {pid}"
        for adjective, c, n, pid in zip(
            adjectives, category_index, noun_index, product_id, strict=True
        )
    ]
    ranks = rng.permutation(count) + 1
    popularity = 1.0 / ranks**ZIPF_EXPONENT
    popularity /= popularity.sum()
    level = rng.integers(50, 500, count)
    rating_rate = np.round(np.clip(rng.normal(3.9, 0.6, count), 1.0, 5.0), 1)
    rating_count = rng.integers(0, 600, count).astype(np.int64)

    # What happens each day, drawn a block of days at a time from the block's own generator.
    days = config.horizon_days
    daily_units = popularity * max(1.0, 14.0 * config.scale_factor)
    changes = np.empty((days, count), dtype=bool)
    factors = np.empty((days, count))
    sales = np.empty((days, count), dtype=np.int64)
    refill = np.empty((days, count), dtype=np.int64)
    for first in range(0, days, CHUNK_DAYS):
        block = config.rng("catalog-days", config.day(first))
        rows = slice(first, first + CHUNK_DAYS)
        changes[rows] = block.random((CHUNK_DAYS, count)) < 1.0 / realism.price_change_mean_days
        factors[rows] = block.uniform(0.85, 1.15, (CHUNK_DAYS, count))
        sales[rows] = block.poisson(daily_units, (CHUNK_DAYS, count))
        refill[rows] = block.integers(100, 500, (CHUNK_DAYS, count))

    # Price changes: a Poisson process per product, each a move of up to ±15%.
    changes[0] = False
    factors = np.where(changes, factors, 1.0)
    price_cents = _shop_price(base_price * np.cumprod(factors, axis=0))
    price_changed = np.vstack([np.ones((1, count), bool), np.diff(price_cents, axis=0) != 0])

    # Stock: daily sales by popularity, refilled the day after it falls to the restock level.
    stock = np.empty((days, count), dtype=np.int64)
    for day in range(days):
        stock[day] = level
        low = level <= realism.restock_level
        level = np.where(low, level + refill[day], np.maximum(level - sales[day], 0))
    stock_changed = np.vstack([np.ones((1, count), bool), np.diff(stock, axis=0) != 0])
    day_index = np.arange(days)[:, None]
    changed_day = np.maximum.accumulate(
        np.where(price_changed | stock_changed, day_index, 0), axis=0
    )

    attributes = pa.table(
        {
            "product_id": product_id,
            "title": titles,
            "description": [
                f"{title}: a {CATEGORY_NAMES[c]} product."
                for title, c in zip(titles, category_index, strict=True)
            ],
            "category": CATEGORY_NAMES[category_index],
            "image_url": [f"https://catalog.example/images/{pid}.jpg" for pid in product_id],
            "rating_rate": rating_rate,
            "rating_count": rating_count,
        }
    )
    return Catalog(
        attributes,
        popularity,
        price_cents,
        stock=stock,
        changed_day=changed_day,
        first_epoch=epoch_seconds(config.start_date),
    )

"""The product catalog: grows with the square root of the scale factor."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa

from generators.arrow import money, timestamps
from generators.config import SimulationConfig
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


def product_count(scale_factor: float) -> int:
    return max(len(CATEGORIES) * 2, round(PRODUCTS_AT_SCALE_1 * math.sqrt(scale_factor)))


def simulate_catalog(config: SimulationConfig, pools: Pools) -> pa.Table:
    """The catalog as the REST API serves it on the first simulated day."""
    rng = config.rng("catalog")
    count = product_count(config.scale_factor)
    product_id = np.arange(1, count + 1, dtype=np.int64)
    category_index = np.arange(count) % len(CATEGORIES)
    rng.shuffle(category_index)
    medians = np.array([spec[0] for spec in CATEGORIES.values()])[category_index]
    sigmas = np.array([spec[1] for spec in CATEGORIES.values()])[category_index]
    price_cents = np.clip(np.round(rng.lognormal(np.log(medians), sigmas) * 100), 199, 250_000)
    price_cents = (price_cents // 100) * 100 + 99  # shop prices end in .99
    adjectives = pools.product_words[rng.integers(0, len(pools.product_words), count)]
    noun_index = rng.integers(0, 5, count)
    nouns = [
        CATEGORIES[CATEGORY_NAMES[c]][2][n] for c, n in zip(category_index, noun_index, strict=True)
    ]
    titles = [
        f"{adjective} {noun} {pid}"
        for adjective, noun, pid in zip(adjectives, nouns, product_id, strict=True)
    ]
    rating_rate = np.round(np.clip(rng.normal(3.9, 0.6, count), 1.0, 5.0), 1)
    rating_count = rng.integers(0, 600, count)
    stock = rng.integers(0, 500, count)
    seconds = np.zeros(count)
    return pa.table(
        {
            "product_id": product_id,
            "title": titles,
            "description": [
                f"{title}: a {CATEGORY_NAMES[c]} product."
                for title, c in zip(titles, category_index, strict=True)
            ],
            "category": CATEGORY_NAMES[category_index],
            "price": money(price_cents.astype(np.int64)),
            "rating_rate": rating_rate,
            "rating_count": rating_count.astype(np.int64),
            "stock_quantity": stock.astype(np.int64),
            "image_url": [f"https://catalog.example/images/{pid}.jpg" for pid in product_id],
            "updated_at": timestamps(config.start_date, seconds),
        }
    )

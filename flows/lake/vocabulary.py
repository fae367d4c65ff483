"""The business's value sets, read from their one declaration: dbt_project.yml `vars.value_sets`.

Ingestion rules (flows/lake/entities.py) take them from here, dbt tests through the in_value_set
test, and tests/test_vocabulary.py proves the Soda contracts and the simulator agree.
"""

from __future__ import annotations

from functools import cache

import yaml

from flows.settings import PROJECT_DIR

DBT_PROJECT = PROJECT_DIR / "dbt_project.yml"


@cache
def value_sets() -> dict[str, tuple[str, ...]]:
    declared = yaml.safe_load(DBT_PROJECT.read_text())["vars"]["value_sets"]
    return {name: tuple(str(value) for value in values) for name, values in declared.items()}


def value_set(name: str) -> tuple[str, ...]:
    return value_sets()[name]

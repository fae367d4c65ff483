"""Each value set is declared once (dbt_project.yml) and every place that checks values agrees;
every range and time order dbt checks on staging is also an ingestion rule."""

from __future__ import annotations

from pathlib import Path

import yaml

from flows.lake.entities import ENTITIES
from flows.lake.vocabulary import value_sets
from tests.conftest import REPO

# the column each value set is checked on, wherever it is checked
COLUMNS = {
    "customer_segment": {"segment", "customer_segment"},
    "order_status": {"status", "order_status"},
    "payment_method": {"payment_method"},
    "product_category": {"category"},
    "event_type": {"event_type"},
    "device_type": {"device_type"},
    "browser": {"browser"},
}
UNKNOWN_MEMBER = "unknown"  # what the warehouse adds for a row whose parent is in quarantine


def set_of(column: str) -> str:
    (name,) = [name for name, columns in COLUMNS.items() if column in columns]
    return name


def yaml_files(folder: str) -> list[Path]:
    return sorted((REPO / folder).rglob("*.yml"))


def test_ingestion_rules_take_every_value_set_from_the_declaration() -> None:
    checked = {
        set_of(column): values
        for entity in ENTITIES.values()
        for column, values in entity.allowed.items()
    }
    assert checked == value_sets()


def test_dbt_tests_name_value_sets_and_never_list_them_again() -> None:
    named, relisted = set(), []
    for path in yaml_files("models"):
        for model in yaml.safe_load(path.read_text()).get("models", []):
            for column in model.get("columns", []):
                for test in column.get("data_tests", []):
                    if not isinstance(test, dict):
                        continue
                    if "in_value_set" in test:
                        name = test["in_value_set"]["arguments"]["value_set"]
                        assert name == set_of(column["name"]), (path, column["name"])
                        named.add(name)
                    if "accepted_values" in test:
                        values = set(test["accepted_values"]["arguments"]["values"])
                        if any(values >= set(members) for members in value_sets().values()):
                            relisted.append(f"{path.name}: {column['name']}")
    assert named == set(value_sets()), "every value set is tested in dbt"
    assert relisted == []


def test_soda_contracts_agree_with_the_declaration() -> None:
    """Every column of a value set, in every contract, is checked against exactly that set: in
    the lake's raw zone as declared, in the warehouse with its unknown member besides."""
    compared, listed_in = 0, {}
    for path in yaml_files("checks/contracts"):
        contract = yaml.safe_load(path.read_text())
        raw = contract["dataset"].startswith("raw/")
        for column in contract.get("columns", []):
            if not any(column["name"] in names for names in COLUMNS.values()):
                continue
            listings = [
                check["invalid"]["valid_values"]
                for check in column.get("checks") or []
                if isinstance(check, dict) and "valid_values" in (check.get("invalid") or {})
            ]
            # a dataset's checks may be split over two files (whole table, days since)
            key = f"{contract['dataset']}: {column['name']}"
            listed_in[key] = listed_in.get(key, 0) + len(listings)
            for listed in listings:
                declared = value_sets()[set_of(column["name"])]
                if not raw:
                    listed = [value for value in listed if value != UNKNOWN_MEMBER]
                assert sorted(listed) == sorted(declared), (path.name, column["name"])
                compared += 1
    unchecked = [column for column, listings in listed_in.items() if listings == 0]
    assert unchecked == [], "a column of a value set without its value check"
    assert compared >= 19


def test_the_simulator_draws_only_declared_values() -> None:
    from generators import weights
    from generators.catalog import CATEGORY_NAMES

    drawn = {
        "customer_segment": weights.SEGMENTS,
        "order_status": weights.ORDER_STATUSES,
        "payment_method": weights.PAYMENT_METHODS,
        "product_category": CATEGORY_NAMES,
        "event_type": weights.EVENT_TYPES,
        "device_type": weights.DEVICE_TYPES,
        "browser": weights.BROWSERS,
    }
    assert {name: sorted(values.tolist()) for name, values in drawn.items()} == {
        name: sorted(values) for name, values in value_sets().items()
    }


def test_every_range_time_order_and_bound_dbt_checks_on_staging_is_an_ingestion_rule() -> None:
    compared = 0
    for path in yaml_files("models/staging"):
        for model in yaml.safe_load(path.read_text()).get("models", []):
            entity = ENTITIES.get(model["name"].split("__")[-1])
            if entity is None:  # sessions: derived in dbt, not landed
                continue
            for column in model.get("columns", []):
                name = column["name"]
                for test in column.get("data_tests", []):
                    if not isinstance(test, dict):
                        continue
                    if "accepted_range" in test:
                        bounds = test["accepted_range"]["arguments"]
                        low, high = bounds.get("min_value"), bounds.get("max_value")
                        if low is not None:
                            ruled = entity.positive if low > 0 else entity.non_negative
                            assert name in ruled, (entity.name, name, low)
                        if high is not None:
                            assert entity.maximum.get(name) == high, (entity.name, name, high)
                        compared += 1
                    if "expression_is_true" in test:
                        expression = test["expression_is_true"]["arguments"]["expression"]
                        left, operator, right = expression.split(maxsplit=2)
                        if operator == ">=":  # a time order
                            assert (left, right) in entity.not_before, (entity.name, left)
                        else:  # a bound by other columns of the record
                            assert operator == "<=", expression
                            bound = (left, tuple(right.split(" * ")))
                            assert bound in entity.at_most, (entity.name, expression)
                        compared += 1
    assert compared >= 10


# The model contracts' spellings valid on both engines, as DuckDB (and Soda) name the types.
DUCKDB_SPELLING = {
    "string": "varchar",
    "{{ var('utc_timestamp_type')[target.type] }}": "timestamp with time zone",
}


def test_every_build_contract_declares_the_columns_and_types_dbt_enforces() -> None:
    """Soda's schema checks and dbt's model contracts describe each mart the same way."""
    enforced = {
        model["name"]: [
            (column["name"], DUCKDB_SPELLING.get(column["data_type"], column["data_type"]))
            for column in model["columns"]
        ]
        for path in yaml_files("models/marts")
        for model in (yaml.safe_load(path.read_text()) or {}).get("models", [])
    }
    compared = 0
    for path in yaml_files("checks/contracts"):
        contract = yaml.safe_load(path.read_text())
        schema_checked = any(check == "schema" or "schema" in check for check in contract["checks"])
        if not contract["dataset"].startswith("build/main/") or not schema_checked:
            continue  # the schema is checked by the table's contract, not by its rows' part
        table = contract["dataset"].removeprefix("build/main/")
        declared = []
        for column in contract["columns"]:
            kind = column["data_type"]
            if "numeric_precision" in column:
                kind += f"({column['numeric_precision']},{column['numeric_scale']})"
            declared.append((column["name"], kind))
        expected = [
            (name, "decimal" if kind.startswith("decimal") and "(" not in dict(declared)[name]
             else kind)
            for name, kind in enforced[table]
        ]  # fmt: skip
        assert declared == expected, table
        compared += 1
    assert compared == len(enforced) >= 14

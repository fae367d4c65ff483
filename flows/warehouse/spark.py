"""The models on Apache Spark: a local session's tables, loaded into the DuckDB build file.

dbt builds the same models on Spark (the `spark` target of profiles.yml, `method: session`: a
SparkSession in this process, its warehouse and Derby metastore beside the DuckDB file). The
quality gate, the publish and the dashboards then work on a DuckDB file as they always do:
each table Spark built is read from its Parquet files by DuckDB and written into a fresh build
file, columns in the models' order, types as Spark wrote them (TIMESTAMP_MICROS instants become
TIMESTAMPTZ, INT, BIGINT, DECIMAL, DATE, BOOLEAN, DOUBLE and STRING map one to one), so the
contracts and the gate check what Spark computed. The lake must be a local folder here: Spark
reads S3 through hadoop-aws, whose jars come only from Maven.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path

import duckdb

from flows.runtime.duck import quoted
from flows.settings import Settings

SPARK_SCHEMA = "lakehouse"
INSTALL = "make install-spark (pip install -e '.[spark]')"
LOG_CONFIG = Path(__file__).with_name("spark-log4j2.properties")


class SparkUnavailable(RuntimeError):
    """Java or pyspark is missing, or the lake is on S3; the message says what to do."""


def spark_folder(settings: Settings) -> Path:
    """Spark's warehouse and metastore, beside the DuckDB files."""
    return settings.storage.warehouse_path.parent / "spark"


def warehouse_dir(settings: Settings) -> Path:
    return spark_folder(settings) / "warehouse"


def spark_memory(settings: Settings) -> str:
    """DuckDB's memory limit ('2GB', '512MiB') as Spark's driver memory ('2g', '512m')."""
    match = re.fullmatch(r"\s*([\d.]+)\s*([KMGT])i?B\s*", settings.duckdb.memory_limit, re.I)
    number, unit = match.groups() if match else ("2", "G")
    megabytes = float(number) * {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024**2}[unit.upper()]
    return f"{max(512, int(megabytes))}m"


def spark_environment(settings: Settings) -> dict[str, str]:
    """The spark target's inputs (profiles.yml holds no values)."""
    folder = spark_folder(settings).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return {
        "DBT_LAKEHOUSE_SPARK_SCHEMA": SPARK_SCHEMA,
        "DBT_LAKEHOUSE_SPARK_WAREHOUSE": str(folder / "warehouse"),
        "DBT_LAKEHOUSE_SPARK_METASTORE": str(folder / "metastore_db"),
        "DBT_LAKEHOUSE_SPARK_MEMORY": spark_memory(settings),
        "DBT_LAKEHOUSE_SPARK_LOG_CONFIG": str(LOG_CONFIG.resolve()),
    }


def spark_missing() -> str:
    """What this machine lacks to build on Spark, as the end of a sentence ('' if nothing)."""
    if shutil.which("java") is None:
        return "Java 17: install it (apt-get install openjdk-17-jre-headless) or set JAVA_HOME"
    try:
        found = all(
            importlib.util.find_spec(name) is not None for name in ("pyspark", "dbt.adapters.spark")
        )
    except ModuleNotFoundError:  # a parent package is missing
        found = False
    return "" if found else f"pyspark and dbt-spark: {INSTALL}"


def check_spark(settings: Settings) -> None:
    """One line saying what to install or change when Spark cannot build here."""
    missing = spark_missing()
    if missing:
        raise SparkUnavailable(f"the Spark engine needs {missing}, then run again")
    if settings.storage.is_s3_lake:
        raise SparkUnavailable(
            f"the Spark engine reads a local lake only here (LAKEHOUSE_LAKE_ROOT="
            f"{settings.storage.lake_root}): Spark reads S3 through hadoop-aws, whose jars "
            "install from Maven only; build with the DuckDB engine, or on a cluster that has it"
        )


def built_tables(manifest: dict) -> list[dict]:
    """The models Spark materialized as tables: name, folder name, columns in model order."""
    tables = []
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model" or node["package_name"] != "lakehouse":
            continue
        if node["config"]["materialized"] not in ("table", "incremental"):
            continue
        tables.append(
            {
                "name": node["alias"],
                "folder": f"{node['schema']}.db/{node['alias']}",
                "columns": list(node["columns"]),
            }
        )
    return sorted(tables, key=lambda table: table["name"])


def load_into_duckdb(settings: Settings, manifest_path: Path) -> list[str]:
    """A fresh DuckDB build file holding every table Spark built; returns their names.

    Written aside and renamed over the build file, so a failure leaves the previous one.
    """
    manifest = json.loads(manifest_path.read_text())
    target = settings.storage.build_path
    aside = target.with_name(f".{target.name}.spark.tmp")
    aside.unlink(missing_ok=True)
    loaded = []
    with duckdb.connect(str(aside), config=settings.duckdb.config()) as connection:
        connection.execute("set TimeZone = 'UTC'")
        for table in built_tables(manifest):
            files = warehouse_dir(settings) / table["folder"]
            source = (
                f"read_parquet({quoted(str(files / '**' / '*.parquet'))}, "
                "hive_partitioning = true, union_by_name = true)"
            )
            present = [
                row[0] for row in connection.execute(f"describe select * from {source}").fetchall()
            ]
            order = [c for c in table["columns"] if c in present]
            order += [c for c in present if c not in order]
            columns = ", ".join(f'"{column}"' for column in order)
            connection.execute(f'create table "{table["name"]}" as select {columns} from {source}')
            loaded.append(table["name"])
        connection.execute("checkpoint")
    aside.replace(target)
    return loaded

"""The settings, by concern: the simulated world, the sources, the lake and warehouse, S3,
DuckDB's resources, how runs behave, the dashboards.

Values come from environment variables prefixed ``LAKEHOUSE_`` or from a ``.env`` file in the
working directory; ``.env.example`` documents every key. Each concern is its own class, so a
part of the project reads only what it needs (the dashboards never see an S3 secret), and
`load_settings` parses all of them once, turning a bad value into one line that names it.
Importing this module changes nothing: `switch_telemetry_off` is called by the entry points.
"""

from __future__ import annotations

import os
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from flows.sources.contract import redact_url

# The repository: the dbt project, models, contracts and docs beside the code (an editable install).
PROJECT_DIR = Path(__file__).resolve().parents[1]
MAX_SCALE_FACTOR = 1000.0

# Phone-home calls are blocked on our machines and cost seconds each: switched off by every
# entry point (the command line, the flows, the dashboards) before the tools are imported.
TELEMETRY_OFF = {
    "DO_NOT_TRACK": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "SODA_CORE_TELEMETRY_ENABLED": "false",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
}


def switch_telemetry_off() -> None:
    """Set every tool's opt-out in this process's environment, unless the user set it."""
    for key, value in TELEMETRY_OFF.items():
        os.environ.setdefault(key, value)


class SettingsError(ValueError):
    """A setting is missing or invalid; the message is one line naming the setting."""


def _non_negative(value: float) -> float:
    if value < 0:
        raise ValueError("must be >= 0")
    return value


def _at_least_one(value: int) -> int:
    if value < 1:
        raise ValueError("must be >= 1")
    return value


class _Concern(BaseSettings):
    """One concern's settings: LAKEHOUSE_<PREFIX><FIELD> variables, or `.env`."""

    model_config = SettingsConfigDict(
        env_prefix="LAKEHOUSE_", env_file=".env", extra="ignore", frozen=True
    )
    secret_fields: ClassVar[frozenset[str]] = frozenset()  # never shown, not even in part

    @classmethod
    def variable(cls, field: str) -> str:
        """The environment variable of a field."""
        return f"{cls.model_config['env_prefix']}{field}".upper()


class WorldSettings(_Concern):
    """The simulated shop: which world it is, and how far `lakehouse run` advances it."""

    seed: int = Field(42, description="Seed of the simulation")
    scale_factor: float = Field(1.0, description="1 = the original's volumes")
    start_date: date = Field(date(2024, 1, 1), description="The day the simulated shop opens")
    days: int = Field(
        730, description="Days `lakehouse run` advances the simulated shop through; not its world"
    )
    dirty: bool = Field(False, description="Inject labelled anomalies into the sources")

    @field_validator("scale_factor")
    @classmethod
    def _scale_in_range(cls, value: float) -> float:
        if not 0 < value <= MAX_SCALE_FACTOR:
            raise ValueError(f"must be > 0 and <= {MAX_SCALE_FACTOR:g}")
        return value

    _days_at_least_one = field_validator("days")(_at_least_one)

    _seed_non_negative = field_validator("seed")(_non_negative)

    @property
    def end_date(self) -> date:
        """The last day of `lakehouse run`'s window (later days come with `lakehouse daily`)."""
        return self.start_date + timedelta(days=self.days - 1)


class SourceSettings(_Concern):
    """Where the three source systems are, and whether they are the embedded simulation."""

    simulate_sources: bool = Field(
        True, description="Commands advance the simulated sources; false for real sources"
    )
    source_db_url: SecretStr = Field(
        SecretStr("sqlite:///data/sources/shop.sqlite"),
        description="Shop OLTP database: sqlite:///<path> or postgresql://user:pass@host:port/db",
    )
    landing_root: str = Field(
        "data/landing", description="Clickstream landing zone: a folder or s3://bucket/prefix"
    )
    catalog_api_url: str = Field(
        "", description="Product catalog API; empty: the simulated one, served for each command"
    )
    catalog_failure_rate: float = Field(
        0.0, description="Share of catalog API requests the embedded server fails (500/429)"
    )
    shop_changes_per_batch: int = Field(
        1_000_000,
        description="Shop change-log rows read, checked and landed at once (bounds the memory "
        "of ingesting a large backlog)",
    )

    @field_validator("catalog_failure_rate")
    @classmethod
    def _rate_in_range(cls, value: float) -> float:
        if not 0 <= value < 1:
            raise ValueError("must be >= 0 and < 1")
        return value

    _batch_at_least_one = field_validator("shop_changes_per_batch")(_at_least_one)

    @field_validator("source_db_url")
    @classmethod
    def _known_database(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError("must start with sqlite:/// or postgresql://")
        return value

    @property
    def source_db_display(self) -> str:
        """The shop database URL as it may be printed: without its password."""
        return redact_url(self.source_db_url.get_secret_value())

    @property
    def landing_is_s3(self) -> bool:
        return self.landing_root.startswith("s3://")

    @property
    def landing_uri(self) -> str:
        """The landing root as pyarrow reads it: an absolute path or an s3:// URI."""
        if self.landing_is_s3:
            return self.landing_root.rstrip("/")
        return str(Path(self.landing_root).resolve())


class StorageSettings(_Concern):
    """Where the lake and the published warehouse are (everything a run writes)."""

    lake_root: str = Field("data/lake", description="Lake root: a folder or s3://bucket/prefix")
    warehouse_path: Path = Field(
        Path("data/warehouse/lakehouse.duckdb"), description="Published DuckDB file"
    )

    @property
    def is_s3_lake(self) -> bool:
        return self.lake_root.startswith("s3://")

    @property
    def lake_uri(self) -> str:
        """The lake root as DuckDB and pyarrow read it: an absolute path or an s3:// URI."""
        if self.is_s3_lake:
            return self.lake_root.rstrip("/")
        return str(Path(self.lake_root).resolve())

    @property
    def build_path(self) -> Path:
        """Where dbt builds; the dashboard never opens this file."""
        return self.warehouse_path.with_name(self.warehouse_path.stem + ".build.duckdb")

    @property
    def run_state_dir(self) -> Path:
        """Check results and run records, next to the warehouse."""
        return self.warehouse_path.parent / "runs"

    @property
    def log_path(self) -> Path:
        """The command line's log file: every message, and every failure's full trace."""
        return self.warehouse_path.parent.parent / "logs" / "lakehouse.log"


class S3Settings(_Concern):
    """The S3 endpoint and credentials, for a lake or landing zone on s3:// (AWS, MinIO, …)."""

    model_config = SettingsConfigDict(env_prefix="LAKEHOUSE_S3_")
    secret_fields: ClassVar[frozenset[str]] = frozenset({"secret_access_key"})

    endpoint_url: str = Field(
        "", description="S3 endpoint, e.g. http://127.0.0.1:9000 for MinIO; empty: AWS"
    )
    region: str = Field("us-east-1", description="S3 region")
    access_key_id: str = Field("", description="S3 access key; empty: the AWS default chain")
    secret_access_key: SecretStr = Field(SecretStr(""), description="S3 secret key")
    url_style: Literal["path", "vhost"] = Field("path", description="S3 addressing style")

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint_has_scheme(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


class DuckDBSettings(_Concern):
    """DuckDB's resources on every connection the pipeline opens (ingestion, dbt, the gate)."""

    model_config = SettingsConfigDict(env_prefix="LAKEHOUSE_DUCKDB_")

    memory_limit: str = Field(
        "2GB", description="Memory DuckDB may use per connection (dbt, ingestion, the gate)"
    )
    threads: int = Field(0, description="DuckDB threads; 0: one per CPU core")
    temp_directory: Path = Field(
        Path("data/tmp"), description="Where DuckDB spills work that does not fit in memory"
    )

    @field_validator("memory_limit")
    @classmethod
    def _memory_has_unit(cls, value: str) -> str:
        if not re.fullmatch(r"\s*\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*", value, re.I):
            raise ValueError("must be a size with a unit, e.g. 2GB or 512MiB")
        return value.strip()

    @field_validator("threads")
    @classmethod
    def _threads_non_negative(cls, value: int) -> int:
        if value < 0:
            raise ValueError("must be >= 0 (0: one per CPU core)")
        return value

    @property
    def thread_count(self) -> int:
        """The threads to use: the setting, or one per CPU core this process may use."""
        return self.threads or len(os.sched_getaffinity(0))

    def config(self) -> dict[str, str]:
        """Memory, threads and spill folder for a DuckDB connection.

        DuckDB's default takes 80% of RAM per connection; the pipeline bounds it instead.
        """
        self.temp_directory.mkdir(parents=True, exist_ok=True)
        return {
            "memory_limit": self.memory_limit,
            "threads": str(self.thread_count),
            "temp_directory": str(self.temp_directory.resolve()),
            # nothing relies on the order of rows without ORDER BY; keeping it costs memory
            "preserve_insertion_order": "false",
        }


class RunSettings(_Concern):
    """How runs behave: the engine dbt builds on, waiting for the lock and for Prefect, the
    contracts of the gate, and the business rules the models take as parameters."""

    engine: Literal["duckdb", "spark"] = Field(
        "duckdb", description="The engine the models build on: duckdb, or spark (the extra)"
    )

    prefect_startup_seconds: float = Field(
        120.0, description="How long a run waits for its temporary Prefect server to start"
    )
    lock_wait_seconds: float = Field(
        0.0, description="How long a run waits for another run's writer lock; 0: refused at once"
    )
    dbt_log_level: Literal["debug", "info", "warn", "error", "none"] = Field(
        "info",
        description="What dbt writes to its log file beside the build (dbt-logs/dbt.log); "
        "debug adds every statement and costs 1–2 s a build",
    )
    contracts_dir: Path = Field(
        PROJECT_DIR / "checks" / "contracts",
        description="Soda contracts the gate verifies (every *.yml in the folder)",
    )

    win_back_min_days: int = Field(
        60, description="A win-back customer has been silent for at least this many days"
    )
    win_back_gap_multiple: int = Field(
        2, description="... and for more than this many times their usual gap between orders"
    )

    _win_back_at_least_one = field_validator("win_back_min_days", "win_back_gap_multiple")(
        _at_least_one
    )

    @field_validator("prefect_startup_seconds")
    @classmethod
    def _startup_positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be > 0")
        return value

    _lock_wait_non_negative = field_validator("lock_wait_seconds")(_non_negative)


class DashboardSettings(_Concern):
    """How often each dashboard page re-reads the published warehouse on its own (the
    original's intervals: Executive 5 min, Product 10 min, Customer 15 min); 0: only on
    interaction."""

    model_config = SettingsConfigDict(env_prefix="LAKEHOUSE_APP_REFRESH_")

    executive_seconds: int = Field(300, description="Executive page auto-refresh")
    products_seconds: int = Field(600, description="Product page auto-refresh")
    customers_seconds: int = Field(900, description="Customer page auto-refresh")
    funnel_seconds: int = Field(600, description="Funnel page auto-refresh")
    health_seconds: int = Field(60, description="Data Health page auto-refresh")

    _non_negative = field_validator(
        "executive_seconds",
        "products_seconds",
        "customers_seconds",
        "funnel_seconds",
        "health_seconds",
    )(_non_negative)

    def refresh_seconds(self, page: str) -> int:
        return int(getattr(self, f"{page}_seconds"))


class Settings(BaseModel):
    """Every concern, parsed once (`load_settings`) and handed to every stage of a run."""

    model_config = ConfigDict(frozen=True)

    world: WorldSettings
    sources: SourceSettings
    storage: StorageSettings
    s3: S3Settings
    duckdb: DuckDBSettings
    runs: RunSettings
    dashboards: DashboardSettings

    def replaced(self, **overrides: object) -> Settings:
        """The same settings with `overrides` (by variable name, as `load_settings` takes them)
        over them, validated again."""
        routed = _route(overrides)
        return self.model_copy(
            update={
                name: _load(CONCERNS[name], {**getattr(self, name).model_dump(), **changes})
                for name, changes in routed.items()
                if changes
            }
        )

    def with_catalog_api(self, url: str) -> Settings:
        """The same settings, the catalog API at `url` (the embedded one a command serves)."""
        sources = self.sources.model_copy(update={"catalog_api_url": url})
        return self.model_copy(update={"sources": sources})


CONCERNS: dict[str, type[_Concern]] = {
    name: field.annotation  # type: ignore[misc]
    for name, field in Settings.model_fields.items()
}


def _route(overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Overrides by the name of their variable (`seed`, `s3_region`: LAKEHOUSE_S3_REGION),
    each to its concern's field."""
    routed: dict[str, dict[str, Any]] = {name: {} for name in CONCERNS}
    for key, value in overrides.items():
        variable = f"LAKEHOUSE_{key}".upper()
        for name, concern in CONCERNS.items():
            field = next((f for f in concern.model_fields if concern.variable(f) == variable), None)
            if field is not None:
                routed[name][field] = value
                break
        else:
            raise TypeError(f"no setting {variable}")
    return routed


def _load(concern: type[_Concern], values: dict[str, Any]) -> _Concern:
    try:
        return concern(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "settings"
        value = first.get("input")
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        shown = "***" if field in concern.secret_fields else redact_url(str(value))
        reason = first["msg"].removeprefix("Value error, ")
        raise SettingsError(
            f"invalid setting {concern.variable(field)}={shown}: {reason}"
        ) from None


def load_settings(**overrides: object) -> Settings:
    """Every concern from the environment and `.env`, `overrides` (by variable name, without
    LAKEHOUSE_) over them; a bad value is a SettingsError of one line naming its variable."""
    routed = _route(overrides)
    return Settings(**{name: _load(CONCERNS[name], routed[name]) for name in CONCERNS})


def load_concern(concern: type[_Concern], **overrides: object) -> _Concern:
    """One concern alone (the dashboards read theirs and the storage's, nothing else)."""
    return _load(concern, dict(overrides))


def ensure_writable(settings: Settings) -> None:
    """Fail before any work when an output location cannot be written."""
    storage = settings.storage
    targets = [("LAKEHOUSE_WAREHOUSE_PATH", storage.warehouse_path.parent)]
    if not storage.is_s3_lake:
        targets.insert(0, ("LAKEHOUSE_LAKE_ROOT", Path(storage.lake_root)))
    for name, folder in targets:
        existing = folder
        while not existing.exists():
            existing = existing.parent
        if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
            raise SettingsError(
                f"invalid setting {name}={folder}: {existing} is not a writable folder"
            )


class WindowError(ValueError):
    """A window of days the sources cannot answer for."""


def check_window(settings: Settings, start: date, end: date) -> None:
    """One clear line, before any work, for a window the run cannot ingest.

    The simulated shop opens on LAKEHOUSE_START_DATE and keeps trading from then on: a day
    before it does not exist (it would reach the embedded catalog API as an HTTP 400 halfway
    through the run); any later day does, whatever LAKEHOUSE_DAYS says.
    """
    if end < start:
        raise WindowError(f"the window ends ({end}) before it starts ({start})")
    opened = settings.world.start_date
    if settings.sources.simulate_sources and start < opened:
        raise WindowError(
            f"{start} is before the simulated shop opened on {opened} "
            "(LAKEHOUSE_START_DATE): choose days from then on (another start date is another "
            "world, which needs a new lake)"
        )

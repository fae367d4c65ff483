"""The one settings object: every stage reads paths, seeds and windows from here.

Values come from environment variables prefixed ``LAKEHOUSE_`` or from a ``.env`` file in the
working directory. ``.env.example`` documents every key.
"""

from __future__ import annotations

import os
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MAX_SCALE_FACTOR = 1000.0

# Phone-home calls are blocked on our machines and cost seconds each: switch them all off early.
TELEMETRY_OFF = {
    "DO_NOT_TRACK": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "SODA_CORE_TELEMETRY_ENABLED": "false",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
}
for _key, _value in TELEMETRY_OFF.items():
    os.environ.setdefault(_key, _value)


class SettingsError(ValueError):
    """A setting is missing or invalid; the message is one line naming the setting."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LAKEHOUSE_", env_file=".env", extra="ignore", frozen=True
    )

    lake_root: str = Field("data/lake", description="Lake root: a folder or s3://bucket/prefix")
    warehouse_path: Path = Field(
        Path("data/warehouse/lakehouse.duckdb"), description="Published DuckDB file"
    )
    seed: int = Field(42, description="Seed of the simulation")
    scale_factor: float = Field(1.0, description="1 = the original's volumes")
    start_date: date = Field(date(2024, 1, 1), description="First simulated day")
    days: int = Field(
        730, description="Days `lakehouse run` advances the simulated shop through; not its world"
    )
    source_db_url: SecretStr = Field(
        SecretStr("sqlite:///data/sources/shop.sqlite"),
        description="Shop OLTP database: sqlite:///<path> or postgresql://user:pass@host:port/db",
    )
    landing_root: str = Field(
        "data/landing", description="Clickstream landing zone: a folder or s3://bucket/prefix"
    )
    catalog_api_url: str = Field(
        "", description="Product catalog API; empty: the run serves the simulated one on loopback"
    )
    catalog_failure_rate: float = Field(
        0.0, description="Share of catalog API requests the embedded server fails (500/429)"
    )
    dirty: bool = Field(False, description="Inject labelled anomalies into the sources")
    simulate_sources: bool = Field(
        True, description="Runs move the simulated sources forward; false for real sources"
    )
    s3_endpoint_url: str = Field(
        "", description="S3 endpoint, e.g. http://127.0.0.1:9000 for MinIO; empty: AWS"
    )
    s3_region: str = Field("us-east-1", description="S3 region")
    s3_access_key_id: str = Field("", description="S3 access key; empty: the AWS default chain")
    s3_secret_access_key: SecretStr = Field(SecretStr(""), description="S3 secret key")
    s3_url_style: Literal["path", "vhost"] = Field("path", description="S3 addressing style")
    prefect_startup_seconds: float = Field(
        120.0, description="How long a run waits for its temporary Prefect server to start"
    )
    duckdb_memory_limit: str = Field(
        "2GB", description="Memory DuckDB may use per connection (dbt, ingestion, the gate)"
    )
    duckdb_threads: int = Field(0, description="DuckDB threads; 0: one per CPU core")
    lock_wait_seconds: float = Field(
        0.0, description="How long a run waits for another run's writer lock; 0: refused at once"
    )
    contracts_dir: Path = Field(
        Path(__file__).resolve().parents[1] / "checks" / "contracts",
        description="Soda contracts the gate verifies (every *.yml in the folder)",
    )
    duckdb_temp_directory: Path = Field(
        Path("data/tmp"), description="Where DuckDB spills work that does not fit in memory"
    )
    # How often each dashboard page re-reads the published warehouse on its own (the original's
    # intervals: Executive 5 min, Product 10 min, Customer 15 min); 0: only on interaction.
    app_refresh_executive_seconds: int = Field(300, description="Executive page auto-refresh")
    app_refresh_products_seconds: int = Field(600, description="Product page auto-refresh")
    app_refresh_customers_seconds: int = Field(900, description="Customer page auto-refresh")
    app_refresh_funnel_seconds: int = Field(600, description="Funnel page auto-refresh")
    app_refresh_health_seconds: int = Field(60, description="Data Health page auto-refresh")

    @field_validator("scale_factor")
    @classmethod
    def _scale_in_range(cls, value: float) -> float:
        if not 0 < value <= MAX_SCALE_FACTOR:
            raise ValueError(f"must be > 0 and <= {MAX_SCALE_FACTOR:g}")
        return value

    @field_validator("days")
    @classmethod
    def _days_positive(cls, value: int) -> int:
        if value < 1:
            raise ValueError("must be >= 1")
        return value

    @field_validator("catalog_failure_rate")
    @classmethod
    def _rate_in_range(cls, value: float) -> float:
        if not 0 <= value < 1:
            raise ValueError("must be >= 0 and < 1")
        return value

    @field_validator("source_db_url")
    @classmethod
    def _known_database(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError("must start with sqlite:/// or postgresql://")
        return value

    @field_validator("s3_endpoint_url")
    @classmethod
    def _endpoint_has_scheme(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("prefect_startup_seconds")
    @classmethod
    def _startup_positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be > 0")
        return value

    @field_validator("duckdb_memory_limit")
    @classmethod
    def _memory_has_unit(cls, value: str) -> str:
        if not re.fullmatch(r"\s*\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*", value, re.I):
            raise ValueError("must be a size with a unit, e.g. 2GB or 512MiB")
        return value.strip()

    @field_validator("duckdb_threads")
    @classmethod
    def _threads_non_negative(cls, value: int) -> int:
        if value < 0:
            raise ValueError("must be >= 0 (0: one per CPU core)")
        return value

    @field_validator(
        "seed",
        "lock_wait_seconds",
        "app_refresh_executive_seconds",
        "app_refresh_products_seconds",
        "app_refresh_customers_seconds",
        "app_refresh_funnel_seconds",
        "app_refresh_health_seconds",
    )
    @classmethod
    def _non_negative(cls, value: float) -> float:
        if value < 0:
            raise ValueError("must be >= 0")
        return value

    @property
    def source_db_display(self) -> str:
        """The shop database URL as it may be printed: without its password."""
        return redact_url(self.source_db_url.get_secret_value())

    @property
    def end_date(self) -> date:
        """Last simulated day: the data's as-of date."""
        return self.start_date + timedelta(days=self.days - 1)

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
    def landing_uri(self) -> str:
        """The landing root as pyarrow reads it: an absolute path or an s3:// URI."""
        if self.landing_root.startswith("s3://"):
            return self.landing_root.rstrip("/")
        return str(Path(self.landing_root).resolve())

    @property
    def build_path(self) -> Path:
        """Where dbt builds; the dashboard never opens this file."""
        return self.warehouse_path.with_name(self.warehouse_path.stem + ".build.duckdb")

    @property
    def run_state_dir(self) -> Path:
        """Check results and run records, next to the warehouse."""
        return self.warehouse_path.parent / "runs"

    @property
    def threads(self) -> int:
        """DuckDB threads: the setting, or one per CPU core this process may use."""
        return self.duckdb_threads or len(os.sched_getaffinity(0))

    def duckdb_config(self) -> dict[str, str]:
        """Memory, threads and spill folder for every DuckDB connection the pipeline opens.

        DuckDB's default takes 80% of RAM per connection; the pipeline bounds it instead.
        """
        self.duckdb_temp_directory.mkdir(parents=True, exist_ok=True)
        return {
            "memory_limit": self.duckdb_memory_limit,
            "threads": str(self.threads),
            "temp_directory": str(self.duckdb_temp_directory.resolve()),
            # nothing relies on the order of rows without ORDER BY; keeping it costs memory
            "preserve_insertion_order": "false",
        }

    @property
    def log_path(self) -> Path:
        """The command line's log file: every message, and every failure's full trace."""
        return self.warehouse_path.parent.parent / "logs" / "lakehouse.log"


SECRET_SETTINGS = {"s3_secret_access_key"}  # never shown, not even in part


def redact_url(url: str) -> str:
    """A URL with the password of its user part replaced: postgresql://app:***@host/db."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def load_settings(**overrides: object) -> Settings:
    """Build settings, turning validation errors into one line that names the setting."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "settings"
        value = first.get("input")
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        value = "***" if name in SECRET_SETTINGS else redact_url(str(value))
        reason = first["msg"].removeprefix("Value error, ")
        raise SettingsError(f"invalid setting LAKEHOUSE_{name.upper()}={value}: {reason}") from None


def ensure_writable(settings: Settings) -> None:
    """Fail before any work when an output location cannot be written."""
    targets = [("LAKEHOUSE_WAREHOUSE_PATH", settings.warehouse_path.parent)]
    if not settings.is_s3_lake:
        targets.insert(0, ("LAKEHOUSE_LAKE_ROOT", Path(settings.lake_root)))
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
    if settings.simulate_sources and start < settings.start_date:
        raise WindowError(
            f"{start} is before the simulated shop opened on {settings.start_date} "
            "(LAKEHOUSE_START_DATE): choose days from then on (another start date is another "
            "world, which needs a new lake)"
        )

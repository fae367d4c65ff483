"""The quality gate: Soda data contracts verified against the build file, results kept as JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from flows import settings as _settings  # noqa: F401  (switches Soda telemetry off before import)
from flows.settings import Settings

DATA_SOURCE_NAME = "build"


@dataclass(frozen=True)
class CheckOutcome:
    contract: str
    check: str
    column: str | None
    outcome: str
    value: float | None


@dataclass(frozen=True)
class GateResult:
    passed: bool
    checks: list[CheckOutcome]
    errors: str
    lake: tuple[str, ...] = ()  # where the lake disagrees with its manifests

    @property
    def failed_checks(self) -> list[CheckOutcome]:
        return [check for check in self.checks if check.outcome != "PASSED"]

    def summary(self) -> str:
        if self.passed:
            return f"quality gate passed: {len(self.checks)} checks"
        failed = ", ".join(f"{c.contract}.{c.column or ''}:{c.check}" for c in self.failed_checks)
        problems = [failed or self.errors] if failed or self.errors else []
        if self.lake:
            problems.append("lake: " + "; ".join(self.lake))
        return f"quality gate failed: {', '.join(problems)}"


def _data_source_yaml(database: Path, configuration: dict[str, str]) -> str:
    return json.dumps(
        {
            "type": "duckdb",
            "name": DATA_SOURCE_NAME,
            "connection": {
                "database": str(database.resolve()),
                "read_only": True,
                "configuration": configuration,
            },
        }
    )


def verify_contracts(settings: Settings, database: Path | None = None) -> GateResult:
    """Verify every contract in the contracts folder against `database` (default: the build)."""
    from soda_core.common.yaml import ContractYamlSource, DataSourceYamlSource
    from soda_core.contracts.contract_verification import ContractVerificationSession

    contracts = sorted(settings.contracts_dir.glob("*.yml"))
    if not contracts:
        raise FileNotFoundError(
            f"no Soda contracts (*.yml) in {settings.contracts_dir}: check LAKEHOUSE_CONTRACTS_DIR"
        )
    result = ContractVerificationSession.execute(
        contract_yaml_sources=[ContractYamlSource.from_file_path(str(path)) for path in contracts],
        data_source_yaml_sources=[
            DataSourceYamlSource.from_str(
                _data_source_yaml(database or settings.build_path, settings.duckdb_config())
            )
        ],
    )
    checks = [
        CheckOutcome(
            contract=verification.contract.dataset_name,
            check=check_result.check.type,
            column=check_result.check.column_name,
            outcome=check_result.outcome.name,
            value=_number(check_result.threshold_value),
        )
        for verification in result.contract_verification_results
        for check_result in verification.check_results
    ]
    # is_passed, not is_ok: a check that could not be evaluated must not let a build through.
    passed = bool(result.is_passed) and not result.has_errors and len(checks) > 0
    return GateResult(passed, checks, result.get_errors_str() if result.has_errors else "")


def _number(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def store_result(settings: Settings, result: GateResult, build_id: str) -> Path:
    """Keep the latest gate result beside the warehouse, for the data-health page."""
    settings.run_state_dir.mkdir(parents=True, exist_ok=True)
    path = settings.run_state_dir / "quality_gate.json"
    payload = {
        "build_id": build_id,
        "passed": result.passed,
        "errors": result.errors,
        "lake": list(result.lake),
        "checks": [asdict(c) for c in result.checks],
    }
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(payload, indent=2))
    temporary.replace(path)
    return path

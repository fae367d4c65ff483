"""The project's import rules, checked from the source text alone (standard library only, so the
CI lint job runs it before anything is installed): `python -m tests.layering`.

- The pipeline reads its sources through their interfaces: no module of `flows/` imports the
  simulator (`generators`) or Faker, except the embedded sources' gateway, which only
  `flows/sources.py` (in simulated mode) and the command line (`generate`, `catalog-api`) use.
- The simulator uses of the pipeline only what both sides agree on: the source contract, and
  the storage code path (whole-object writes).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The pipeline's one way to the simulator; the benchmark drives it too (it is not part of a run).
SIMULATOR_GATEWAYS = {"flows/embedded_sources.py", "flows/bench.py"}
GATEWAY_USERS = {"flows/sources.py", "flows/cli.py"}
SIMULATOR_MAY_IMPORT = {"flows.source_contract", "flows.storage"}


def imports(path: Path) -> set[str]:
    """Every module a file imports, at its top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _modules(folder: str) -> dict[str, set[str]]:
    return {
        str(path.relative_to(REPO)): imports(path) for path in sorted((REPO / folder).rglob("*.py"))
    }


def violations() -> list[str]:
    """One line per import that breaks a rule; none when the seams hold."""
    found = []
    for module, names in _modules("flows").items():
        simulator = sorted(n for n in names if n.split(".")[0] in ("generators", "faker"))
        if simulator and module not in SIMULATOR_GATEWAYS:
            found.append(f"{module} imports the simulator ({', '.join(simulator)})")
        if "flows.embedded_sources" in names and module not in GATEWAY_USERS:
            found.append(f"{module} imports flows.embedded_sources (only {GATEWAY_USERS} may)")
    for module, names in _modules("generators").items():
        pipeline = sorted(n for n in names if n.split(".")[0] in ("flows", "app"))
        for name in pipeline:
            if name not in SIMULATOR_MAY_IMPORT:
                found.append(f"{module} imports {name} (the simulator may use only the contract)")
    return found


if __name__ == "__main__":
    problems = violations()
    for line in problems:
        print(f"layering: {line}", file=sys.stderr)
    print(f"layering: {len(problems)} violations" if problems else "layering: every seam holds")
    sys.exit(1 if problems else 0)

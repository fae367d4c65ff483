"""The project's import rules, checked from the source text alone (standard library only, so the
CI lint job runs it before anything is installed): `python -m tests.layering`.

Data flows one way. The command line and the deployments call the pipeline, the pipeline calls
the stages (ingestion, warehouse, operations), the stages use the lake and the runtime. In
particular:

- no import cycles, between any two modules of the project (an import inside a function, or
  under TYPE_CHECKING, counts: it is a dependency all the same);
- ingestion never imports the warehouse or the operations; no stage imports the pipeline or the
  command line; the lake never imports a stage or the sources' entry points;
- the dashboards (app/) import only their own modules and the settings;
- the pipeline reads its sources through their interfaces: no module of flows/ imports the
  simulator (generators) or Faker; the embedded shop runs as a process of its own
  (`python -m generators.embedded`); the simulator uses of the pipeline only the source
  contract and the storage code path.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("flows", "generators", "app", "infra")
SIMULATOR_MAY_IMPORT = {"flows.sources.contract", "flows.lake.storage"}
STAGES = ("flows.ingestion", "flows.warehouse", "flows.operations")
TOP = ("flows.pipeline", "flows.cli")
# (importer, what it must not import): prefixes of module names
FORBIDDEN = [
    ("flows.ingestion", ("flows.warehouse", "flows.operations", *TOP)),
    ("flows.warehouse", TOP),
    ("flows.operations", TOP),
    ("flows.lake", (*STAGES, *TOP, "flows.sources.entry", "flows.sources.identity")),
    ("flows.runtime", (*STAGES, *TOP, "flows.sources.entry", "flows.sources.identity")),
    ("flows.sources", TOP),
    ("flows.settings", ("flows.lake", "flows.runtime", *STAGES, *TOP)),
]


def imports(path: Path) -> set[str]:
    """Every module a file imports, at its top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # `from flows import settings`: a module, not a name
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def project_modules() -> dict[str, set[str]]:
    """Each module of the project's packages, with the project modules it imports."""
    paths = {
        ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__"): path
        for package in PACKAGES
        for path in sorted((REPO / package).rglob("*.py"))
    }
    return {
        module: {name for name in imports(path) if name in paths and name != module}
        | {name for name in imports(path) if name.split(".")[0] == "faker"}
        for module, path in paths.items()
    }


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, ()):
            if target not in graph:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def violations() -> list[str]:
    """One line per import that breaks a rule; none when the layers hold."""
    graph = project_modules()
    found = [f"import cycle: {' ↔ '.join(group)}" for group in cycles(graph)]
    for module, names in sorted(graph.items()):
        for name in sorted(names):
            if name.split(".")[0] in ("generators", "faker") and _within(module, "flows"):
                found.append(f"{module} imports the simulator ({name})")
            elif _within(module, "generators") and name.split(".")[0] in ("flows", "app"):
                if name not in SIMULATOR_MAY_IMPORT and name != "flows":
                    found.append(f"{module} imports {name} (the simulator uses only the contract)")
            elif _within(module, "app") and not (
                _within(name, "app") or name == "flows.settings" or name == "flows"
            ):
                found.append(f"{module} imports {name} (the app imports the settings only)")
            for importer, forbidden in FORBIDDEN:
                if _within(module, importer) and any(_within(name, f) for f in forbidden):
                    found.append(f"{module} imports {name} ({importer} must not)")
    return found


if __name__ == "__main__":
    problems = violations()
    for line in problems:
        print(f"layering: {line}", file=sys.stderr)
    print(f"layering: {len(problems)} violations" if problems else "layering: every layer holds")
    sys.exit(1 if problems else 0)

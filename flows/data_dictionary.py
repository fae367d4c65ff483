"""Write docs/data-dictionary.md from the dbt model YAML: `python -m flows.data_dictionary`."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

MODELS = Path(__file__).resolve().parents[1] / "models"
TARGET = Path(__file__).resolve().parents[1] / "docs" / "data-dictionary.md"


def _tests(column: dict) -> str:
    names = []
    for test in column.get("data_tests", []):
        names.append(test if isinstance(test, str) else next(iter(test)))
    return ", ".join(names)


def render() -> str:
    lines = [
        "# Data dictionary",
        "",
        "Generated from the dbt model YAML by `python -m flows.data_dictionary` (`make docs`);",
        "do not edit by hand. Layers: staging (typed, renamed, latest version), intermediate,",
        "marts (what the dashboards read).",
        "",
    ]
    for path in sorted(MODELS.rglob("_*__models.yml")):
        spec = yaml.safe_load(path.read_text()) or {}
        for model in spec.get("models", []):
            lines += [f"## {model['name']}", "", f"`{path.relative_to(MODELS.parent)}`", ""]
            lines += [" ".join(str(model.get("description", "")).split()), ""]
            columns = model.get("columns", [])
            if columns:
                lines += ["| Column | Description | Tests |", "|---|---|---|"]
                for column in columns:
                    description = " ".join(str(column.get("description", "")).split())
                    lines.append(f"| `{column['name']}` | {description} | {_tests(column)} |")
                lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    TARGET.write_text(render())
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

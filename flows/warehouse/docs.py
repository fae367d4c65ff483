"""The dbt docs site and docs/data-dictionary.md, from the last build (`lakehouse docs`).

dbt reads the build file read-only (its catalog is the built tables' columns and types) and
writes its artefacts to their own folder beside it, `dbt-docs/`: the published warehouse is
never opened and the build's own dbt folder is left alone. `dbt docs generate --static` puts
the whole site, manifest and catalog included, in one HTML file that needs no server.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from flows.settings import Settings
from flows.warehouse.build import run_dbt
from flows.warehouse.data_dictionary import DICTIONARY, render

DOCS_TARGET = "dbt-docs"


class NoBuild(RuntimeError):
    """There is no build file to describe yet."""


class DocsError(RuntimeError):
    """dbt could not generate the docs."""


@dataclass(frozen=True)
class Docs:
    site: Path  # the static site: one HTML file
    dictionary: Path


def docs_folder(settings: Settings) -> Path:
    return settings.storage.build_path.parent / DOCS_TARGET


def generate_docs(settings: Settings, dictionary: Path = DICTIONARY) -> Docs:
    """`dbt docs generate --static` on the build file, then the data dictionary from its catalog."""
    if not settings.storage.build_path.exists():
        raise NoBuild(f"no build at {settings.storage.build_path}: run `lakehouse run` first")
    result = run_dbt(
        settings, "docs", "generate", "--static", "--quiet", read_only=True, target=DOCS_TARGET
    )
    if result.exception is not None or not result.success:
        raise DocsError(f"dbt docs generate failed: {result.exception or 'see the dbt logs'}")
    folder = docs_folder(settings)
    manifest = json.loads((folder / "manifest.json").read_text())
    catalog = json.loads((folder / "catalog.json").read_text())
    dictionary.write_text(render(manifest, catalog))
    return Docs(site=folder / "static_index.html", dictionary=dictionary)

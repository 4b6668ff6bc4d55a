"""A tokenizer coverage report as files and tables: ``<folder>/coverage/<Task>.json``.

The format shared by what measures coverage (:mod:`mteb_hybrid.coverage`, the sweep) and what
shows it (the leaderboard, ``mteb-hybrid coverage``). Standard library only (tabulate for tables).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mteb_hybrid.files import atomic_write

COVERAGE_FIELDS = ("unk_share", "tokens_per_char", "truncated_share")
COVERAGE_DIR = "coverage"
FORMATS = ("md", "csv", "json")


def coverage_rows(report: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of a report (shares in percent), for tables and leaderboards."""
    headers = [
        "language",
        "texts",
        "[UNK] % of tokens",
        "tokens / char",
        f"truncated % (> {report['max_length']} tokens)",
    ]
    rows = [
        [
            row["language"],
            str(row["texts"]),
            f"{100 * row['unk_share']:.1f}",
            f"{row['tokens_per_char']:.3f}",
            f"{100 * row['truncated_share']:.1f}",
        ]
        for row in report["languages"]
    ]
    return headers, rows


def read_coverage_reports(folder: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """Reports saved as ``<folder>/coverage/<Task>.json`` (by a sweep), keyed by task."""
    found = {}
    for path in sorted((Path(folder) / COVERAGE_DIR).glob("*.json")):
        report = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(report, dict) and "languages" in report and "task" in report:
            found[str(report["task"])] = report
    return found


def write_coverage_report(folder: str | os.PathLike[str], report: Mapping[str, Any]) -> Path:
    """Save a report as ``<folder>/coverage/<Task>.json``."""
    path = Path(folder) / COVERAGE_DIR / f"{report['task']}.json"
    with atomic_write(path, "w") as handle:
        handle.write(render_coverage(report, "json"))
    return path


def coverage_table(report: Mapping[str, Any], fmt: str = "github") -> str:
    """The report as a table (``tabulate`` format name), shares in percent."""
    from tabulate import tabulate

    headers, rows = coverage_rows(report)
    return tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True)


def render_coverage(report: Mapping[str, Any], fmt: str = "md") -> str:
    """The report as text: ``md`` (a table), ``csv`` or ``json``."""
    if fmt == "json":
        return json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    text = coverage_table(report, "github" if fmt == "md" else "tsv") + "\n"
    return text.replace("\t", ",") if fmt == "csv" else text

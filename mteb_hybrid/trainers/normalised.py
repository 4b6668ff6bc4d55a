"""The note a command prints when a ratio it was given is not already normalised."""

from __future__ import annotations

from mteb_hybrid.runs import Ratio, RatioError


def normalised_notes(text: str | None) -> list[str]:
    """One line per ratio in ``text`` (comma-separated) whose weights do not sum to 1, saying
    the normalised ratio that is trained; nothing for malformed items (parsed elsewhere)."""
    notes = []
    for item in (text or "").split(","):
        item = item.strip()
        try:
            ratio = Ratio.parse(item)
            total = sum(float(v) for v in item.split(":"))
        except (RatioError, ValueError):
            continue
        if abs(total - 1.0) > 1e-9:
            notes.append(
                f"note: ratio {item} (weights, sum {total:g}) is normalised: training "
                f"{ratio.text()} (mono:cross:multi)"
            )
    return notes

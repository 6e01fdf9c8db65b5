"""Offline metrics kept in the instance folder for the compare page.

`flask evaluate` (on the ratings the app serves) and `flask personalize metrics` write their
figures here; /compare reads them, so no page measures anything. Written atomically; a missing
or unreadable file reads as None.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

EVALUATION_FILE = "evaluation.json"
PERSONALIZE_METRICS_FILE = "personalize-metrics.json"


def read_evaluation(instance: str | Path) -> dict[str, Any] | None:
    return _read(Path(instance) / EVALUATION_FILE)


def read_personalize_metrics(instance: str | Path) -> dict[str, Any] | None:
    return _read(Path(instance) / PERSONALIZE_METRICS_FILE)


def save_evaluation(instance: str | Path, ratings: str, fingerprint: str, seeds: int,
                    results: Mapping[str, Mapping[str, Mapping[str, float]]]) -> None:
    """Keep `flask evaluate`'s figures for the compare page, merged by recipe."""
    path = Path(instance) / EVALUATION_FILE
    cached = _read(path) or {}
    same = cached.get("fingerprint") == fingerprint and cached.get("seeds") == seeds
    kept = cached.get("results", {}) if same else {}
    _write(path, {"ratings": ratings, "fingerprint": fingerprint, "seeds": seeds,
                  "saved_at": int(time.time()), "results": {**kept, **results}})


def save_personalize_metrics(instance: str | Path, solution_version: str,
                             metrics: Mapping[str, float]) -> None:
    """Keep `flask personalize metrics`' figures for the compare page."""
    _write(Path(instance) / PERSONALIZE_METRICS_FILE,
           {"solution_version": solution_version, "saved_at": int(time.time()),
            "metrics": dict(metrics)})


def _read(path: Path) -> dict[str, Any] | None:
    try:
        loaded = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        logger.warning("Ignoring the unreadable metrics cache %s (%s)", path, error)
        return None
    return loaded if isinstance(loaded, dict) else None


def _write(path: Path, content: dict[str, Any]) -> None:
    """Atomically: a page never reads half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as out:
        json.dump(content, out, indent=1)
    os.replace(out.name, path)


def saved_when(cached: Mapping[str, Any]) -> str:
    """When the figures were saved, for people."""
    saved = cached.get("saved_at")
    if not isinstance(saved, int):
        return "at an unknown time"
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(saved))

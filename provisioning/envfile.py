"""Writing the deployed ARNs into .env, and removing them after teardown.

Only the keys deploy owns are changed; every other line of the file is left as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from dotenv import dotenv_values

from files import atomic_write

# The keys deploy owns in .env; every other line of the file is left as it is.
ENV_CAMPAIGN = "PERSONALIZE_CAMPAIGN_ARN"
ENV_SIMS_CAMPAIGN = "PERSONALIZE_SIMS_CAMPAIGN_ARN"
ENV_REGION = "AWS_REGION"
ENV_TRACKING_ID = "PERSONALIZE_TRACKING_ID"

# python-dotenv's set_key drops blank lines, so .env is edited line by line here instead.
_ENV_ASSIGNMENT = re.compile(r"^\s*(?P<export>export\s+)?(?P<key>[A-Za-z_][A-Za-z0-9_.]*)\s*=")


def update_env_file(path: str | Path, values: Mapping[str, str]) -> None:
    """Set these keys in a .env file, creating it; every other line stays as it was."""
    _rewrite_env(Path(path), values)


def forget_env_values(path: str | Path, deleted: Iterable[str]) -> list[str]:
    """Remove our keys whose value names a deleted resource; return the keys removed."""
    path = Path(path)
    if not path.is_file():
        return []
    gone = set(deleted)
    current = dotenv_values(path)
    removed = [key for key in (ENV_CAMPAIGN, ENV_SIMS_CAMPAIGN) if current.get(key) in gone]
    if removed:
        _rewrite_env(path, dict.fromkeys(removed))
    return removed


def _rewrite_env(path: Path, changes: Mapping[str, str | None]) -> None:
    """Set (or, for None, remove) keys: the first assignment is rewritten in place, repeats
    are dropped (a later one would win), missing keys are appended."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True) if path.is_file() else []
    done: set[str] = set()
    output = []
    for line in lines:
        match = _ENV_ASSIGNMENT.match(line)
        key = match["key"] if match else None
        if key not in changes:
            output.append(line)
            continue
        value = changes[key]
        if key not in done and value is not None:
            # ARNs hold no spaces, quotes or '#': unquoted, they stay readable and parse the same.
            output.append(f"{match['export'] or ''}{key}={value}\n")
        done.add(key)
    if output and not output[-1].endswith("\n"):
        output[-1] += "\n"
    output += [f"{key}={value}\n" for key, value in changes.items()
               if value is not None and key not in done]
    # A .env may hold secrets: a new one is the owner's only; a replaced one keeps its mode.
    with atomic_write(path, encoding="utf-8", private=True) as handle:
        handle.write("".join(output))

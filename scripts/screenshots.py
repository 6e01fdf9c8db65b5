"""Save screenshots of the app's pages to docs/ for the README, taken in Debian's Chromium.

    .venv/bin/python scripts/screenshots.py [--out docs] [--width 1280]

Serves the app on the shipped sample data from a local port, as tests/test_browser.py does
(no OMDb key, the browser kept off the network), and writes one full-page PNG per page at a
1280x900 window. Add a page by adding a line to PAGES. To look at the pages on a phone, take
them at its width into a scratch folder: --width 375 --out /tmp/phone (docs/ keeps 1280).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent

PAGES = {
    "screenshot-home.png": "/",
    "screenshot-results.png": "/recommendations?user_id=1",
    "screenshot-movie.png": "/movies?item_id=1&user_id=1",
    "screenshot-shelves.png": "/home?user_id=1",
    "screenshot-search.png": "/search?q=star&user_id=1",
    "screenshot-compare.png": "/compare?user_id=1&left=user-personalization&right=sims",
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=PROJECT_DIR / "docs", help="folder for PNGs")
    parser.add_argument("--width", type=int, default=1280, help="window width in CSS pixels")
    args = parser.parse_args(argv)

    # Run as a script, only scripts/ is on sys.path; the app and the browser helpers are not.
    for folder in (PROJECT_DIR, PROJECT_DIR / "tests"):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    from browser_support import (
        CHROMIUM,
        PageWatch,
        broken_posters,
        chromium,
        open_page,
        sample_app,
        serving,
    )

    if not CHROMIUM.exists():
        print(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium).")
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    problems = 0
    viewport = {"width": args.width, "height": 900}
    with tempfile.TemporaryDirectory() as scratch:
        app = sample_app(Path(scratch) / "instance")
        with serving(app) as base_url, chromium() as browser:
            for name, path in PAGES.items():
                watch = PageWatch()
                page = open_page(browser, base_url, watch, viewport=viewport)
                page.goto(path)
                broken = broken_posters(page)  # also brings lazy posters in before the shot
                page.screenshot(path=str(args.out / name), full_page=True)
                page.context.close()
                print(f"{args.out / name}  <- {path}")
                for problem in [*watch.problems, *(f"broken poster: {src}" for src in broken)]:
                    print(f"  problem: {problem}")
                    problems += 1
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

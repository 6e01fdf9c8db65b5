"""Amazon Personalize's offline metrics: their names, their definitions, and the one table.

`flask evaluate` (the embedded recipes side by side) and `flask personalize metrics`
(Personalize's solution beside them) print the same metric names through `metrics_table`, so
the figures compare line by line. Pure Python: reading the names loads neither numpy nor the
engine, and this module imports nothing of the project.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence

# GetSolutionMetrics' names, in the order Personalize's console lists them.
OFFLINE_METRICS = (
    "coverage",
    "mean_reciprocal_rank_at_25",
    "normalized_discounted_cumulative_gain_at_5",
    "normalized_discounted_cumulative_gain_at_10",
    "normalized_discounted_cumulative_gain_at_25",
    "precision_at_5",
    "precision_at_10",
    "precision_at_25",
)
# Reported beside Personalize's metrics; not quality measures.
TIMINGS = ("training_seconds", "recommend_ms_p50", "recommend_ms_p99")

# A figure in a table: a value, or (mean, standard deviation) over several splits.
Figure = float | tuple[float, float]


# --- definitions (per query, except coverage) ----------------------------------------------


def precision_at(recommended: Sequence[str], truth: Collection[str], k: int) -> float:
    """Hits in the first k, divided by k (not by the list's length: short lists lose)."""
    return sum(item in truth for item in recommended[:k]) / k


def reciprocal_rank(recommended: Sequence[str], truth: Collection[str], k: int) -> float:
    """1 / rank of the first hit within the first k; 0 when there is none."""
    for rank, item in enumerate(recommended[:k], start=1):
        if item in truth:
            return 1.0 / rank
    return 0.0


def ndcg_at(recommended: Sequence[str], truth: Collection[str], k: int) -> float:
    """DCG with gain 1/log2(1 + rank), over the DCG of min(|truth|, k) hits at the top."""
    if not truth:
        return 0.0
    dcg = sum(
        1.0 / math.log2(1 + rank)
        for rank, item in enumerate(recommended[:k], start=1)
        if item in truth
    )
    ideal = sum(1.0 / math.log2(1 + rank) for rank in range(1, min(len(truth), k) + 1))
    return dcg / ideal


def coverage(lists: Iterable[Sequence[str]], n_items: int) -> float:
    """Distinct items recommended across all queries, out of every item in the data."""
    return len({item for items in lists for item in items}) / n_items if n_items else 0.0


def query_metrics(recommended: Sequence[str], truth: Collection[str]) -> dict[str, float]:
    """Every per-query metric of OFFLINE_METRICS (coverage is over all queries, so not here)."""
    metrics = {"mean_reciprocal_rank_at_25": reciprocal_rank(recommended, truth, 25)}
    for k in (5, 10, 25):
        metrics[f"normalized_discounted_cumulative_gain_at_{k}"] = ndcg_at(recommended, truth, k)
    for k in (5, 10, 25):
        metrics[f"precision_at_{k}"] = precision_at(recommended, truth, k)
    return metrics


# --- the table -------------------------------------------------------------------------------


def metrics_table(columns: Mapping[str, Mapping[str, Figure]], names: Sequence[str]) -> str:
    """One row per figure in `names`, one column per source (a recipe, Personalize).

    A cell is the value, or "mean ± std"; "—" where a source lacks the figure. Timings show
    2 decimals, metrics 4.
    """
    cells = {
        title: [_cell(figures.get(name), 2 if name in TIMINGS else 4) for name in names]
        for title, figures in columns.items()
    }
    width = max([len("metric"), *map(len, names)])
    widths = {title: max([len(title), *map(len, cells[title])]) for title in cells}
    lines = ["  ".join(["metric".ljust(width), *(title.rjust(widths[title]) for title in cells)])]
    for row, name in enumerate(names):
        values = (cells[title][row].rjust(widths[title]) for title in cells)
        lines.append("  ".join([name.ljust(width), *values]))
    return "\n".join(lines)


def _cell(figure: Figure | None, digits: int) -> str:
    if figure is None:
        return "—"
    if isinstance(figure, tuple):
        mean, spread = figure
        return f"{mean:.{digits}f} ± {spread:.{digits}f}"
    return f"{figure:.{digits}f}"

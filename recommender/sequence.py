"""The sequence score ("rated next"): what people rate soon after the items a user rated last.

user-personalization adds it to the ALS score. Training builds an items x items matrix of who
follows whom (`sequence_matrix`); serving lets a user's recent items vote through it
(`sequence_votes`). The parameters are ModelParams' `sequence_*` ones.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp
from numpy.lib.stride_tricks import sliding_window_view

from dataset import Interactions
from dataset.interactions import grouped_order
from recommender.model_files import ModelParams

# Rows of the matrix are built a block of items at a time, each block from about this many
# interactions (x sequence_window pairs): memory stays at one block's pairs at any size.
_INTERACTIONS_PER_BLOCK = 200_000


def sequence_matrix(interactions: Interactions, params: ModelParams) -> sp.csr_matrix:
    """Items x items: row a holds the items rated soon after a, as shares of a's row total."""
    n, window = interactions.n_items, params.sequence_window
    if window < 1 or len(interactions) == 0:
        return sp.csr_matrix((n, n), dtype=np.float32)
    items = interactions.items_by_time
    # Row p of `followers`: the `window` items rated after position p; the first `reach[p]` of
    # them are the same user's (positions are grouped by user, oldest first).
    reach = _reach(np.bincount(interactions.users), window)
    followers = sliding_window_view(np.append(items[1:], np.zeros(window, items.dtype)), window)
    # Positions grouped by item: a block of items is then a run of positions.
    by_item = grouped_order(items, n)
    starts = np.concatenate([[0], np.cumsum(np.bincount(items, minlength=n))])

    blocks = []
    for first, last in _item_blocks(starts):
        positions = by_item[starts[first] : starts[last]]
        bounds = starts[first : last + 1] - starts[first]  # each item's run of positions
        follows = _follows(reach[positions], followers[positions], bounds, n, params)
        blocks.append(_shares(follows, first, params.sequence_neighbours))
    return sp.vstack(blocks, format="csr")


def _reach(counts: np.ndarray, window: int) -> np.ndarray:
    """For positions grouped by user (`counts` each), how many of the next `window` positions
    are the same user's: `window` but near each user's end (a few per user to set)."""
    reach = np.full(int(counts.sum()), window, dtype=np.int32)
    ends = np.cumsum(counts)
    for later in range(window):  # the position with `later` positions left in its user's run
        short = counts > later
        reach[ends[short] - 1 - later] = later
    return reach


def _item_blocks(starts: np.ndarray) -> Iterator[tuple[int, int]]:
    """(first, last) item ranges holding about _INTERACTIONS_PER_BLOCK positions each."""
    first, count = 0, len(starts) - 1
    while first < count:
        last = int(np.searchsorted(starts, starts[first] + _INTERACTIONS_PER_BLOCK, "right")) - 1
        last = min(max(last, first + 1), count)
        yield first, last
        first = last


def _follows(
    reach: np.ndarray, followers: np.ndarray, bounds: np.ndarray, n: int, params: ModelParams
) -> sp.csr_matrix:
    """Per item of a block, the decayed count of each item that followed it.

    `followers` holds a row per position of the block's items (grouped by item, `bounds`
    delimiting each item's run), of which the first `reach` are the same user's.
    """
    count, window = followers.shape
    # One row per position: its followers, weighing 0 past the user's last interaction (the
    # row of weights for each reach looked up, not computed per pair).
    decay = (params.sequence_decay ** np.arange(window)).astype(np.float32)
    weights = np.where(np.arange(window) < np.arange(window + 1)[:, None], decay, np.float32(0))
    pairs = sp.csr_matrix(
        (weights[reach].ravel(), followers.ravel(), np.arange(0, count * window + 1, window)),
        shape=(count, n),
    )
    # Summed per item by a product with each item's positions: one pass over the pairs
    # (adding a sparse matrix per distance re-added the running total each time).
    of_item = sp.csr_matrix(
        (np.ones(count, dtype=np.float32), np.arange(count), bounds),
        shape=(len(bounds) - 1, count),
    )
    return of_item @ pairs


def _shares(follows: sp.csr_matrix, first: int, keep: int) -> sp.csr_matrix:
    """Rows of follow weights (row r is item first + r) as shares, each row's strongest kept."""
    rows = np.repeat(np.arange(follows.shape[0]), np.diff(follows.indptr))
    # An item does not follow itself (a re-rating is not a recommendation).
    other = follows.indices != rows + first
    rows, columns, weights = rows[other], follows.indices[other], follows.data[other]
    totals = np.bincount(rows, weights, minlength=follows.shape[0])
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=follows.shape[0]))])
    shares = (weights / totals[rows]).astype(np.float32)
    return _strongest_per_row(sp.csr_matrix((shares, columns, indptr), shape=follows.shape), keep)


def _strongest_per_row(matrix: sp.csr_matrix, keep: int) -> sp.csr_matrix:
    """Each row's `keep` largest entries (ties by column), the rest dropped; columns in order."""
    lengths = np.diff(matrix.indptr)
    # Each long row's keep-th largest value, by a partition of the row (no row is sorted);
    # a short row keeps everything.
    cut = np.full(len(lengths), -np.inf, dtype=matrix.dtype)
    for row in np.flatnonzero(lengths > keep):
        values = matrix.data[matrix.indptr[row] : matrix.indptr[row + 1]]
        cut[row] = np.partition(values, values.size - keep)[values.size - keep]
    rows = np.repeat(np.arange(len(lengths)), lengths)
    kept = matrix.data > cut[rows]
    # Of the values equal to a row's cut, those of the lowest columns fill the room left.
    room = keep - np.bincount(rows[kept], minlength=len(lengths))
    tied = np.flatnonzero(matrix.data == cut[rows])
    tied = tied[np.lexsort((matrix.indices[tied], rows[tied]))]
    tied_rows = rows[tied]
    place = np.arange(tied.size) - np.searchsorted(tied_rows, tied_rows)  # within its row's ties
    kept[tied[place < room[tied_rows]]] = True
    indptr = np.concatenate([[0], np.cumsum(np.minimum(lengths, keep))])
    pruned = sp.csr_matrix((matrix.data[kept], matrix.indices[kept], indptr), shape=matrix.shape)
    pruned.sort_indices()  # a tenth of the entries of the unpruned rows, or fewer
    return pruned.astype(np.float32, copy=False)


def sequence_votes(
    sequence: sp.csr_matrix, recent: np.ndarray, half_life: float
) -> tuple[np.ndarray, np.ndarray]:
    """Votes of the user's recent items (oldest first) for what tends to follow them.

    Returns the items voted for (ascending) and their votes; every other item's vote is 0.
    """
    age = np.arange(recent.size - 1, -1, -1, dtype=np.float64)
    votes = 0.5 ** (age / half_life) if half_life > 0 else np.ones_like(age)
    # The rows' entries gathered by hand: scipy's row indexing costs more than the sum.
    starts = sequence.indptr[recent]
    lengths = sequence.indptr[recent + 1] - starts
    offsets = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    entries = offsets + np.arange(lengths.sum())
    weights = np.repeat(votes, lengths) * sequence.data[entries]
    # Summed per item through one sort of the few thousand votes, by item and then by entry:
    # each item's votes are added in the order np.bincount would add them, without clearing a
    # vector as long as the catalogue. (numpy's stable argsort is ten times slower here.)
    count = entries.size
    shift = max(count - 1, 1).bit_length()  # an entry's number in the low bits, its item above
    keys = np.sort((sequence.indices[entries].astype(np.int64) << shift) | np.arange(count))
    items, order = keys >> shift, keys & ((1 << shift) - 1)
    first = np.ones(count, dtype=bool)
    np.not_equal(items[1:], items[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    sums = np.add.reduceat(weights[order], starts) if count else weights
    return items[starts].astype(np.int32), sums

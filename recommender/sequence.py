"""The sequence score ("rated next"): what people rate soon after the items a user rated last.

user-personalization adds it to the ALS score. Training builds an items x items matrix of who
follows whom (`sequence_matrix`); serving lets a user's recent items vote through it
(`sequence_scores`). The parameters are ModelParams' `sequence_*` ones.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from dataset import Interactions
from recommender.model_files import ModelParams
from recommender.weights import time_order


def sequence_matrix(interactions: Interactions, params: ModelParams) -> sp.csr_matrix:
    """Items x items: row a holds the items rated soon after a, as shares of a's row total."""
    order = time_order(interactions.users, interactions.timestamps)
    users, items = interactions.users[order], interactions.items[order]
    n = interactions.n_items
    follows = sp.csr_matrix((n, n), dtype=np.float32)
    # One distance at a time keeps memory at one pass's pairs, not window x interactions.
    for distance in range(1, params.sequence_window + 1):
        before, after = items[:-distance], items[distance:]
        # An item does not follow itself (a re-rating is not a recommendation).
        pair = (users[distance:] == users[:-distance]) & (before != after)
        before, after = before[pair], after[pair]
        weight = np.full(before.size, params.sequence_decay ** (distance - 1), dtype=np.float32)
        follows = follows + sp.csr_matrix((weight, (before, after)), shape=(n, n))
    totals = np.asarray(follows.sum(axis=1)).ravel()
    follows = sp.diags((1.0 / np.maximum(totals, 1e-12)).astype(np.float32)) @ follows
    return _strongest_per_row(follows.tocsr(), params.sequence_neighbours)


def _strongest_per_row(matrix: sp.csr_matrix, keep: int) -> sp.csr_matrix:
    """Each row's `keep` largest entries (ties by column), the rest dropped."""
    matrix.sort_indices()  # so a stable sort of a row breaks ties by column
    lengths = np.diff(matrix.indptr)
    kept = np.ones(matrix.nnz, dtype=bool)
    # Row by row, and only the long rows: a third of the time of one sort over every entry.
    for row in np.flatnonzero(lengths > keep):
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        weakest = np.argsort(-matrix.data[start:end], kind="stable")[keep:]
        kept[start + weakest] = False
    indptr = np.concatenate([[0], np.cumsum(np.minimum(lengths, keep))])
    pruned = (matrix.data[kept], matrix.indices[kept], indptr)
    return sp.csr_matrix(pruned, shape=matrix.shape).astype(np.float32)


def sequence_scores(sequence: sp.csr_matrix, recent: np.ndarray, half_life: float) -> np.ndarray:
    """Votes of the user's recent items (oldest first) for what tends to follow them."""
    age = np.arange(recent.size - 1, -1, -1, dtype=np.float64)
    votes = 0.5 ** (age / half_life) if half_life > 0 else np.ones_like(age)
    # The rows' entries gathered by hand: scipy's row indexing costs more than the sum.
    starts = sequence.indptr[recent]
    lengths = sequence.indptr[recent + 1] - starts
    offsets = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    entries = offsets + np.arange(lengths.sum())
    weights = np.repeat(votes, lengths) * sequence.data[entries]
    return np.bincount(sequence.indices[entries], weights, minlength=sequence.shape[1])

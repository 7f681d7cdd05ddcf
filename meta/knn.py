"""k-NN transferability: leave-one-out nearest-neighbour accuracy of a member's frozen features.

Renggli et al., "Which model to transfer? Finding the needle in the growing haystack" (CVPR 2022)
found that a k-NN classifier's accuracy on a model's penultimate features ranks models for
transfer as well as or better than LogME and similar estimators, at the cost of one distance
matrix. Here: features centred and L2-normalised (cosine similarity), each image classified by a
similarity-weighted vote of its ``k`` nearest other images; numpy only, a few milliseconds for the
few hundred images the meta-features use. Written here because scikit-learn's
``KNeighborsClassifier`` has no leave-one-out mode and would refit per image.
"""

from __future__ import annotations

import numpy as np

__all__ = ["knn_accuracy"]


def knn_accuracy(features: np.ndarray, labels: np.ndarray, k: int = 5) -> float:
    """Leave-one-out ``k``-NN accuracy (cosine similarity, weighted vote) of ``features`` (N x D)."""
    f = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels).astype(np.int64).reshape(-1)
    n = len(y)
    if f.ndim != 2 or len(f) != n:
        raise ValueError(f"features must be N x D with one label per row, got {f.shape} and {n} labels")
    if n < 2 or len(np.unique(y)) < 2:
        raise ValueError("k-NN accuracy needs at least 2 images of at least 2 classes")
    f = f - f.mean(axis=0, keepdims=True)
    f /= np.linalg.norm(f, axis=1, keepdims=True) + 1e-12
    sim = f @ f.T
    np.fill_diagonal(sim, -np.inf)  # leave one out
    kk = int(min(max(k, 1), n - 1))
    nn = np.argpartition(-sim, kk - 1, axis=1)[:, :kk]
    w = np.take_along_axis(sim, nn, axis=1) + 1.0  # cosine in [-1, 1] -> weight in [0, 2]
    classes = int(y.max()) + 1
    votes = np.zeros((n, classes))
    np.add.at(votes, (np.repeat(np.arange(n), kk), y[nn].reshape(-1)), w.reshape(-1))
    return float((votes.argmax(axis=1) == y).mean())

"""LogME: how well a frozen model's features suit a task, without fine-tuning (numpy only).

You, Liu, Wang, Long, "LogME: Practical Assessment of Pre-trained Models for Transfer Learning",
ICML 2021. For each class c, the one-vs-rest target t_c is explained by a Bayesian linear model
over the features F (N x D): prior w ~ N(0, 1/alpha I), noise ~ N(0, 1/beta). The evidence
p(t_c | F, alpha, beta) is maximised over (alpha, beta) by MacKay's fixed-point updates, which
become cheap scalar sums in the eigenbasis of F^T F (one SVD of F serves every class). The score
is the mean over classes of the maximised log evidence divided by N: higher means the features
already separate the classes linearly.

This implementation follows the paper's derivation; it counts the D - rank(F) zero eigenvalues of
F^T F in log|A| (they contribute ``log alpha`` each), so scores stay comparable when N < D.
"""

from __future__ import annotations

import numpy as np

__all__ = ["logme", "class_evidence"]


def _spectrum(f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Left singular vectors U (N x k) and eigenvalues sigma = s^2 (k) of F, for the non-zero part."""
    n, d = f.shape
    if n > d:  # the D x D Gram matrix is the cheaper decomposition
        sigma, v = np.linalg.eigh(f.T @ f)
        sigma = np.clip(sigma, 0.0, None)
        keep = sigma > max(float(sigma.max(initial=0.0)), 1e-300) * 1e-10
        sigma, v = sigma[keep], v[:, keep]
        u = (f @ v) / np.sqrt(sigma)
    else:
        u, s, _ = np.linalg.svd(f, full_matrices=False)
        sigma = s * s
        keep = sigma > max(float(sigma.max(initial=0.0)), 1e-300) * 1e-10
        u, sigma = u[:, keep], sigma[keep]
    return u, sigma


def class_evidence(u: np.ndarray, sigma: np.ndarray, t: np.ndarray, d: int, *, max_iter: int = 50,
                   tol: float = 1e-4, eps: float = 1e-10) -> tuple[float, float, float]:
    """Maximised log evidence / N for one target vector, with the final (alpha, beta).

    ``u``/``sigma`` come from :func:`_spectrum`; ``d`` is the feature dimension D.
    """
    n = t.shape[0]
    z = u.T @ t  # target coordinates in the column space of F
    z2 = z * z
    outside = max(float(t @ t - z2.sum()), 0.0)  # the part of t no linear map of F can reach
    alpha, beta = 1.0, 1.0
    lam = alpha / beta
    for _ in range(max_iter):
        denom = sigma + lam
        gamma = float((sigma / denom).sum())  # effective number of well-determined weights
        m2 = float((sigma * z2 / denom**2).sum())  # |m|^2 of the posterior mean
        r2 = float((lam * lam * z2 / denom**2).sum()) + outside  # |t - F m|^2
        alpha = gamma / (m2 + eps)
        beta = max(n - gamma, eps) / (r2 + eps)
        new_lam = alpha / beta
        done = abs(new_lam - lam) <= tol * lam
        lam = new_lam
        if done:
            break
    denom = sigma + lam
    m2 = float((sigma * z2 / denom**2).sum())
    r2 = float((lam * lam * z2 / denom**2).sum()) + outside
    k = sigma.shape[0]
    log_det_a = float(np.log(alpha + beta * sigma).sum()) + (d - k) * np.log(alpha)
    evidence = (
        0.5 * d * np.log(alpha)
        + 0.5 * n * np.log(beta)
        - 0.5 * log_det_a
        - 0.5 * beta * r2
        - 0.5 * alpha * m2
        - 0.5 * n * np.log(2 * np.pi)
    )
    return float(evidence / n), float(alpha), float(beta)


def logme(features: np.ndarray, labels: np.ndarray) -> float:
    """The LogME score of ``features`` (N x D) for integer class ``labels`` (N).

    Classes are the distinct labels present; at least two are needed. Typical use: penultimate
    features of a few hundred training images from each zoo member, to rank members for a task.
    """
    f = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels).reshape(-1)
    if f.ndim != 2 or f.shape[0] != y.shape[0]:
        raise ValueError(f"logme needs an N x D feature matrix and N labels, got {f.shape} and {y.shape}")
    if not np.isfinite(f).all():
        raise ValueError("logme got non-finite features")
    classes = np.unique(y)
    if classes.size < 2:
        raise ValueError("logme needs at least two classes")
    u, sigma = _spectrum(f)
    d = f.shape[1]
    scores = [class_evidence(u, sigma, (y == c).astype(np.float64), d)[0] for c in classes]
    return float(np.mean(scores))

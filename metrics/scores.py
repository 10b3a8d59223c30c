"""Scores on extracted features: FID, KID, Inception Score, improved precision and recall.

All take features as tensors (N, D) (float32 from the extractor) and compute in float64 on their device.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def feature_statistics(features: Tensor) -> tuple[Tensor, Tensor]:
    """Mean (D,) and unbiased covariance (D, D) of features (N, D), in float64 (numpy's mean and cov)."""
    x = features.double()
    mu = x.mean(dim=0)
    centered = x - mu
    return mu, centered.T @ centered / (len(x) - 1)


def psd_sqrt(matrix: Tensor) -> Tensor:
    """Square root of a symmetric positive semi-definite matrix (negative rounding noise clipped)."""
    eigenvalues, eigenvectors = torch.linalg.eigh(matrix)
    return (eigenvectors * eigenvalues.clamp(min=0).sqrt()) @ eigenvectors.T


def frechet_distance(mu1: Tensor, sigma1: Tensor, mu2: Tensor, sigma2: Tensor) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2) (Dowson and Landau 1982; FID, Heusel et al.
    2017, Eq. 6): ||mu1 - mu2||^2 + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2)).

    Tr((sigma1 sigma2)^(1/2)) is the sum of the square roots of the eigenvalues of sigma1 sigma2, which are
    those of the symmetric PSD matrix sigma1^(1/2) sigma2 sigma1^(1/2): two symmetric eigendecompositions
    instead of scipy's sqrtm of a non-symmetric product (as clean-fid does), exact for singular covariances too.
    """
    mu1, mu2, sigma1, sigma2 = (t.double() for t in (mu1, mu2, sigma1, sigma2))
    root1 = psd_sqrt(sigma1)
    cross = torch.linalg.eigvalsh(root1 @ sigma2 @ root1).clamp(min=0).sqrt().sum()
    diff = mu1 - mu2
    return float(diff @ diff + sigma1.trace() + sigma2.trace() - 2 * cross)


def fid_from_features(real: Tensor, fake: Tensor) -> float:
    """FID between two feature sets (N1, D) and (N2, D)."""
    return frechet_distance(*feature_statistics(real), *feature_statistics(fake))


def kernel_inception_distance(
    real: Tensor, fake: Tensor, num_subsets: int = 100, max_subset_size: int = 1000, seed: int = 0
) -> float:
    """KID (Bińkowski et al. 2018, "Demystifying MMD GANs", Sec. 4): the unbiased estimate of the
    squared MMD with the polynomial kernel k(x, y) = (x.y / d + 1)^3, averaged over ``num_subsets`` random
    subsets of m = min(N_real, N_fake, max_subset_size) features of each set: clean-fid's ``kernel_distance``,
    which draws the same subsets after ``np.random.seed(seed)``. Subsets are processed in batches."""
    rng = np.random.RandomState(seed)
    dim, m = real.shape[1], min(len(real), len(fake), max_subset_size)
    draws = [
        (rng.choice(len(fake), m, replace=False), rng.choice(len(real), m, replace=False)) for _ in range(num_subsets)
    ]
    per_batch = max(1, 2**25 // (m * max(m, dim)))  # about 256 MB of float64 per (subsets, m, max(m, d)) array
    total = 0.0
    for start in range(0, num_subsets, per_batch):
        chosen = draws[start : start + per_batch]
        x = fake[torch.from_numpy(np.stack([i for i, _ in chosen])).to(fake.device)].double()
        y = real[torch.from_numpy(np.stack([j for _, j in chosen])).to(real.device)].double()
        within = (x @ x.mT / dim + 1) ** 3 + (y @ y.mT / dim + 1) ** 3
        between = (x @ y.mT / dim + 1) ** 3
        off_diagonal = within.sum(dim=(1, 2)) - within.diagonal(dim1=1, dim2=2).sum(dim=1)
        total += float((off_diagonal / (m - 1) - between.sum(dim=(1, 2)) * 2 / m).sum())
    return total / num_subsets / m


def inception_score(logits: Tensor, splits: int = 10) -> tuple[float, float]:
    """IS (Salimans et al. 2016, Sec. 4): exp(E_x KL(p(y|x) || p(y))), with p(y) the mean of p(y|x) over a
    split; mean and standard deviation over ``splits`` consecutive splits, as the original code reports it."""
    log_p = torch.log_softmax(logits.double(), dim=1)
    n = len(log_p)
    scores = []
    for i in range(splits):
        part = log_p[i * n // splits : (i + 1) * n // splits]
        log_marginal = torch.logsumexp(part, dim=0) - np.log(len(part))
        kl = (part.exp() * (part - log_marginal)).sum(dim=1)
        scores.append(kl.mean().exp())
    scores = torch.stack(scores)
    return float(scores.mean()), float(scores.std(unbiased=False))


def knn_radii(features: Tensor, k: int, batch_size: int) -> Tensor:
    """Distance of every feature vector to its k-th nearest neighbour in the same set (itself excluded)."""
    x = features.double()
    return torch.cat([torch.cdist(rows, x).kthvalue(k + 1, dim=1).values for rows in x.split(batch_size)])


def manifold_coverage(manifold: Tensor, radii: Tensor, queries: Tensor, batch_size: int) -> float:
    """Fraction of ``queries`` inside the manifold estimate of Kynkäänniemi et al. 2019, Eq. 1: the union of
    the balls around each ``manifold`` point with its k-NN radius (f(q) = 1 if ||q - m|| <= r(m) for some m)."""
    x = manifold.double()
    inside = [(torch.cdist(rows.double(), x) <= radii).any(dim=1) for rows in queries.split(batch_size)]
    return float(torch.cat(inside).double().mean())


def precision_recall(real: Tensor, fake: Tensor, k: int = 3, batch_size: int = 1000) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019, Eq. 1-2, k = 3): precision is the fraction of
    generated samples inside the real manifold, recall the fraction of real samples inside the generated one.
    Distances are computed ``batch_size`` rows at a time."""
    precision = manifold_coverage(real, knn_radii(real, k, batch_size), fake, batch_size)
    recall = manifold_coverage(fake, knn_radii(fake, k, batch_size), real, batch_size)
    return precision, recall

"""2D Gaussian mixtures for mode-coverage experiments (ring of 8, grid of 25; REFERENCES.md)."""

from __future__ import annotations

import torch
from torch.utils.data import TensorDataset

from datamodules.base import ZooDataModule
from metrics.mode_coverage import MIXTURES
from zoo.errors import ZooError


class Toy2DDataModule(ZooDataModule):
    """Points from a ring of 8 Gaussians (std 0.01, radius 1) or a 5x5 grid (std 0.05, spacing 2),
    as in VEEGAN and PacGAN; labels are the index of the mode each point was drawn from."""

    def __init__(
        self,
        mixture: str = "ring",
        num_points: int = 100_000,
        std: float | None = None,
        data_seed: int = 0,
        batch_size: int = 100,
        num_workers: int = 0,
        seed: int | None = None,
    ):
        """
        Args:
            mixture: ring (8 modes) or grid (25 modes).
            num_points: size of the fixed training set (PacGAN: 100k points).
            std: standard deviation of each mode (None: the protocol's 0.01 ring / 0.05 grid).
            data_seed: seed of the training points (independent of the training seed).
        """
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        if mixture not in MIXTURES:
            raise ZooError(f"unknown mixture '{mixture}'; choose one of: {', '.join(MIXTURES)}")
        self.mixture, self.num_points, self.data_seed = mixture, num_points, data_seed
        self.means, default_std = MIXTURES[mixture]
        self.std = default_std if std is None else std
        self.num_classes = len(self.means)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return (2,)

    def setup(self, stage: str | None = None) -> None:
        if self.dataset is not None:
            return
        rng = torch.Generator().manual_seed(self.data_seed)
        labels = torch.randint(len(self.means), (self.num_points,), generator=rng)
        points = self.means[labels] + self.std * torch.randn(self.num_points, 2, generator=rng)
        self.dataset = TensorDataset(points, labels)

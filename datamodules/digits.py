"""The embedded default dataset: scikit-learn's bundled handwritten digits. No download, ever."""

from __future__ import annotations

import torch

from datamodules.base import DataExtent, TensorImages, ZooDataModule, resize_to_uint8
from datamodules.semi_supervised import SemiSupervisedData
from zoo.errors import ZooError


class DigitsDataModule(SemiSupervisedData, ZooDataModule):
    """1,797 handwritten digits (UCI ML optical recognition set, 8x8, 17 gray levels) shipped with
    scikit-learn, upsampled to ``resolution``; labels 0-9. Trains a DCGAN on a CPU in minutes. With ``labelled``,
    semi-supervised training batches (datamodules/semi_supervised.py); there is no test split."""

    channels = 1
    num_classes = 10
    count = 1797

    def __init__(
        self,
        resolution: int = 32,
        batch_size: int = 64,
        num_workers: int = 0,
        seed: int | None = None,
        labelled: int | None = None,
        labelled_seed: int = 1,
        labelled_batch_size: int = 100,
    ):
        """
        Args:
            resolution: output size in pixels (16 or 32 are the natural choices; 8 is the source).
            labelled: keep the labels of this many examples, balanced over the classes, and hide the others
                (semi-supervised batches: ``labelled_batch_size`` labelled + ``batch_size`` unlabelled); None: every
                label, plain batches.
            labelled_seed: seed of the permutation that picks the labelled examples.
            labelled_batch_size: labelled examples per batch (with ``labelled``).
        """
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        self.init_semi_supervised(labelled, labelled_seed, labelled_batch_size)
        if resolution < 8:
            raise ZooError(f"digits are 8x8 at the source; choose --data.resolution >= 8, got {resolution}")
        self.resolution = resolution

    def extent(self) -> DataExtent:
        """1,797 images at any resolution (upsampled)."""
        return DataExtent(self.count)

    def setup(self, stage: str | None = None) -> None:
        if self.dataset is not None:
            return
        from sklearn.datasets import load_digits

        digits = load_digits()
        images = torch.from_numpy(digits.images).float().unsqueeze(1)  # (1797, 1, 8, 8), values 0..16
        labels = torch.from_numpy(digits.target).long()
        self.dataset = TensorImages(resize_to_uint8(images, self.resolution, max_value=16.0), labels)

"""Stacked MNIST: 1,000 modes for counting how many a GAN covers."""

from __future__ import annotations

import torch

from datamodules.base import TensorImages, resize_to_uint8
from datamodules.mnist import MNISTDataModule


class StackedMNISTDataModule(MNISTDataModule):
    """Stacked MNIST as in VEEGAN (Srivastava et al. 2017, Sec. 5.2) and PacGAN (Lin et al. 2018): each
    sample stacks three MNIST digits (LeCun et al. 1998), drawn independently and uniformly from the split,
    as its R, G and B channels; its class is ``100 * d_R + 10 * d_G + d_B``, one of 1,000 modes.

    The set is built once in memory as uint8 (``num_samples`` x 3 x ``resolution``^2 bytes: 393 MB for
    128k samples at 32 px); ``data_seed`` fixes which triplets form it, independently of the run's seed.
    """

    channels = 3
    num_classes = 1000

    def __init__(self, num_samples: int = 128_000, data_seed: int = 0, hflip: bool = False, **kwargs):
        """
        Args:
            num_samples: stacked images in the set (128,000 in VEEGAN).
            data_seed: seed of the digit triplets; the same seed gives the same set.
            hflip: random horizontal flips (off: mirrored digits are not digits).
            **kwargs: root (holding MNIST/raw/), download, train (which MNIST split the digits come from),
                resolution (each 28x28 channel is resized; 32 suits DCGAN), batch_size, num_workers, seed.
        """
        super().__init__(**kwargs)
        self.num_samples, self.data_seed, self.hflip = num_samples, data_seed, hflip

    def setup(self, stage: str | None = None) -> None:
        if self.dataset is not None:
            return
        digits, labels = self.read_split()
        digits = resize_to_uint8(digits.unsqueeze(1), self.resolution, max_value=255.0).squeeze(1)  # (M, H, W)
        rng = torch.Generator().manual_seed(self.data_seed)
        picks = torch.randint(len(digits), (self.num_samples, 3), generator=rng)  # source index per R, G, B
        classes = (labels[picks] * torch.tensor([100, 10, 1])).sum(1)
        self.dataset = TensorImages(digits[picks], classes)  # uint8 (N, 3, H, W), no float copy

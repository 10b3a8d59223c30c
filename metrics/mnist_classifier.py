"""The MNIST digit classifier behind the Stacked MNIST mode count (metrics/stacked_mnist.py).

VEEGAN (Srivastava et al. 2017, Sec. 5.2) and PacGAN (Lin et al. 2018, Sec. 5.2) label each channel of
a generated Stacked MNIST image with a classifier trained on MNIST; neither ships one, so the zoo trains
its own the first time it is needed (a small CNN, 99.3% test accuracy after 5 epochs, about two minutes
on a 2-core CPU) and caches its weights in ``$GAN_ZOO_CACHE`` (default ``~/.cache/gan_zoo``), loaded with
``weights_only=True``. MNIST is read in torchvision's layout (``<root>/MNIST/raw/``).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from datamodules.base import resize_to_uint8, to_unit_range
from datamodules.mnist import MNISTDataModule
from zoo.errors import ZooError

CACHE_ENV = "GAN_ZOO_CACHE"
CACHE_FILE = "mnist_classifier_v1.pt"  # the version changes with the architecture or the training recipe
SOURCE_SIZE = 28


def cache_path() -> Path:
    """Where the trained weights are kept: ``$GAN_ZOO_CACHE`` or ``~/.cache/gan_zoo``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "gan_zoo") / CACHE_FILE


class MNISTClassifier(nn.Module):
    """Two 3x3 conv blocks (16 and 32 channels, BatchNorm, ReLU, 2x2 max-pool), a 128-unit hidden layer
    with dropout 0.25, 10 logits. Takes (N, 1, H, W) digits in [-1, 1] (or uint8); sizes other than
    28 px (the 32 px of the Stacked MNIST datamodule) are resized to 28 (bilinear, antialiased)."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            *conv_block(1, 16),
            *conv_block(16, 32),
            nn.Flatten(),
            nn.Linear(32 * 7 * 7, 128),
            nn.ReLU(inplace=True),
            nn.Dropout(0.25),
            nn.Linear(128, 10),
        )

    def forward(self, digits: Tensor) -> Tensor:
        return self.net[-1](self.features(digits))

    def features(self, digits: Tensor) -> Tensor:
        """The 128-unit hidden layer (after ReLU and dropout): the image features of the text-to-image family's
        text encoder and diversity score (zoo/text_encoder.py, benchmarks/text2image.py)."""
        digits = to_unit_range(digits)
        if digits.shape[-1] != SOURCE_SIZE or digits.shape[-2] != SOURCE_SIZE:
            digits = F.interpolate(digits, size=SOURCE_SIZE, mode="bilinear", align_corners=False, antialias=True)
        return self.net[:-1](digits)

    @torch.no_grad()
    def predict(self, digits: Tensor, batch_size: int = 2048) -> Tensor:
        """The digit (N,) of each image, in eval mode, ``batch_size`` at a time."""
        was_training = self.training
        self.eval()
        device = next(self.parameters()).device
        labels = torch.cat([self(chunk.to(device)).argmax(dim=1).cpu() for chunk in digits.split(batch_size)])
        self.train(was_training)
        return labels


def conv_block(in_channels: int, out_channels: int) -> list[nn.Module]:
    return [
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    ]


def read_mnist(root: str, train: bool, download: bool = False) -> tuple[Tensor, Tensor]:
    """uint8 digits (N, 1, 28, 28) and their labels from ``<root>/MNIST/raw/``."""
    data = MNISTDataModule(root=root, download=download, train=train)
    try:
        digits, labels = data.read_split()
    except ZooError as err:
        raise ZooError(f"the Stacked MNIST classifier is trained on MNIST: {err}") from err
    return digits.unsqueeze(1), labels


def train_classifier(
    root: str = "data",
    download: bool = False,
    epochs: int = 5,
    batch_size: int = 128,
    lr: float = 2e-3,
    limit: int | None = None,
    seed: int = 0,
    device: str = "cpu",
) -> MNISTClassifier:
    """Adam with the one-cycle learning-rate schedule (Smith & Topin 2019; peak ``lr``) on the MNIST
    training split (its first ``limit`` digits when given), shuffled by ``seed``."""
    digits, labels = read_mnist(root, train=True, download=download)
    if limit is not None:
        digits, labels = digits[:limit], labels[:limit]
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # initial weights and dropout masks
        model = MNISTClassifier().to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        steps = epochs * math.ceil(len(digits) / batch_size)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps)
        for _ in range(epochs):
            order = torch.randperm(len(digits), generator=generator)
            for batch in order.split(batch_size):
                loss = F.cross_entropy(model(digits[batch].to(device)), labels[batch].to(device))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
    return model.eval()


def mnist_test_accuracy(
    model: MNISTClassifier, root: str = "data", resolution: int = SOURCE_SIZE, limit: int | None = None
) -> float:
    """Accuracy on the MNIST test split (its first ``limit`` digits), resized to ``resolution`` as the
    Stacked MNIST datamodule resizes its channels."""
    digits, labels = read_mnist(root, train=False)
    if limit is not None:
        digits, labels = digits[:limit], labels[:limit]
    if resolution != SOURCE_SIZE:
        digits = resize_to_uint8(digits, resolution, max_value=255.0)
    return float((model.predict(digits) == labels).double().mean())


def load_classifier(root: str = "data", download: bool = False, device: str = "cpu") -> MNISTClassifier:
    """The cached classifier, trained first (and cached, with its test accuracy) when there is none."""
    path = cache_path()
    model = MNISTClassifier()
    if path.is_file():
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True)["state_dict"])
        return model.to(device).eval()
    model = train_classifier(root, download, device=device)
    state = {
        "state_dict": {k: v.cpu() for k, v in model.state_dict().items()},
        "test_accuracy": mnist_test_accuracy(model, root),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    torch.save(state, partial)
    os.replace(partial, path)  # concurrent first uses never see a half-written file
    return model


def cached_test_accuracy() -> float | None:
    """The test accuracy stored with the cached weights (None when nothing is cached)."""
    path = cache_path()
    return float(torch.load(path, weights_only=True)["test_accuracy"]) if path.is_file() else None

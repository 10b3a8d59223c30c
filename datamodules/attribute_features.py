"""Image features for the zoo's text encoder that carry what captioned MNIST's captions say.

Reed, Akata, Lee and Schiele 2016 (CVPR, "Learning Deep Representations of Fine-Grained Visual Descriptions",
Sec. 4) train the char-CNN-RNN against GoogLeNet features of the image (1024-d, reedscot/cvpr2016
train_sje_hybrid.lua with ``image_noop 1``): features rich enough to hold the fine-grained facts the captions
describe (colours, parts, shapes). The zoo's stand-in for GoogLeNet on MNIST, the hidden layer of the zoo's MNIST
classifier, is trained to tell digits apart and barely holds stroke thickness, so an encoder trained against it
cannot learn what "thick" or "thin" means (zero-shot thickness 39.6%, chance 33%: benchmarks/RESULTS.md, blocks
text2image-mnist-*). ``mnist_classifier_attributes`` appends to those 128 features the three attributes the captions
name, measured on the image with the functions that wrote the captions (datamodules/digit_attributes.py), so the
joint embedding has coordinates for them as GoogLeNet's features have for the birds' attributes. The DS-SJE loss is
unchanged.

Each attribute is put in *level units*: (value - centre) / step with the centre the midpoint of its two bucket
edges and the step their distance, so one caption level is one unit (thin -1, medium 0, thick +1 around the
edges); then it is multiplied by ``ATTRIBUTE_SCALE``, the root mean square of the classifier's 128 features over
MNIST's training digits (3.3, measured with ``python -m datamodules.attribute_features ../shared/data``), so an
attribute coordinate is as large as a typical classifier coordinate.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from datamodules.digit_attributes import SIZE_EDGES, SLANT_EDGES, THICKNESS_EDGES, size, slant, thickness

#: (measure, bucket edges) of the appended attributes, in this order
ATTRIBUTES = ((thickness, THICKNESS_EDGES), (slant, SLANT_EDGES), (size, SIZE_EDGES))
#: the classifier features' RMS over the 60,000 MNIST training digits (``python -m datamodules.attribute_features``)
ATTRIBUTE_SCALE = 3.3


def attribute_coordinates(images: Tensor) -> Tensor:
    """(N, 3) thickness, slant and size of each image in level units times ``ATTRIBUTE_SCALE``."""
    columns = []
    for measure, (low, high) in ATTRIBUTES:
        columns.append((measure(images) - (low + high) / 2) / (high - low))
    return ATTRIBUTE_SCALE * torch.stack(columns, dim=1)


def with_attributes(features: Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    """``features`` (images -> (N, D)) followed by the images' ``attribute_coordinates``: (N, D + 3)."""

    def joined(images: Tensor) -> Tensor:
        return torch.cat([features(images), attribute_coordinates(images).to(torch.float32)], dim=1)

    return joined


if __name__ == "__main__":
    import sys

    from torchvision.datasets import MNIST

    from metrics.mnist_classifier import load_classifier

    root = sys.argv[1] if len(sys.argv) > 1 else "data"
    torch.set_num_threads(1)
    classifier = load_classifier(root)
    digits = MNIST(root, train=True, download=False).data[:, None]
    with torch.no_grad():
        rms = torch.cat([classifier.features(chunk) for chunk in digits.split(2048)]).pow(2).mean().sqrt()
    print(f"classifier feature RMS over {len(digits)} MNIST training digits: {rms:.2f}")

"""SNGAN with a projection discriminator (Miyato and Koyama 2018, "cGANs with Projection Discriminator",
arXiv 1802.05637)."""

from __future__ import annotations

from zoo.nets.resnet import require_classes
from zoo.sngan import SNGAN


class SNGANProjection(SNGAN):
    """Miyato & Koyama 2018: the class enters D as an inner product with the pooled features,
    D(x, y) = psi(phi(x)) + <embed(y), phi(x)> (Eq. 3), and G through class-conditional batch norm; SNGAN's
    ResNets (spectral norm in D, embedding included), hinge loss, Adam lr 2e-4 betas (0, 0.9), 5 D steps.

    The authors' ImageNet model is the 128 px ResNet at width 64, trained 450k G steps with the lr decaying
    linearly to 0 from 400k (their configs/sn_projection.yml; here configs/sngan_projection/imagenet.yaml).
    """

    conditional = True

    def __init__(self, num_classes: int | None = None, resolution: int = 128, **kwargs):
        """
        Args:
            num_classes: number of classes, linked from the datamodule.
            resolution: image size, linked from the datamodule: 32, 48, 64 or 128.
        """
        super().__init__(num_classes=require_classes(num_classes, "sngan_projection"), resolution=resolution, **kwargs)

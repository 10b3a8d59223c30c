"""Relativistic GANs (Jolicoeur-Martineau 2018, "The relativistic discriminator: a key element missing from
standard GAN", arXiv 1807.00734)."""

from __future__ import annotations

from zoo.standard import StandardGAN


class RelativisticGAN(StandardGAN):
    """Jolicoeur-Martineau 2018: D estimates how much more realistic real data is than fake data.

    ``--model.objective`` picks the variant: rsgan (Eq. 6-7), rasgan (relativistic average, Eq. 8-9, the
    default), ralsgan or rahinge (Sec. 4.3). The paper's CIFAR-10 and CAT setups use DCGAN networks with
    Adam lr 2e-4, betas (0.5, 0.999) and one D step per G step.
    """

    def __init__(self, objective: str = "rasgan", **kwargs):
        super().__init__(objective=objective, **kwargs)

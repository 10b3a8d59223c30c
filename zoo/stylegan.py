"""StyleGAN (Karras, Laine and Aila 2019, "A Style-Based Generator Architecture for Generative Adversarial
Networks", arXiv 1812.04948), configuration F of Table 1 grown progressively as in the paper."""

from __future__ import annotations

from torch import Tensor, nn

from zoo.base import GANModule
from zoo.errors import ZooError
from zoo.nets.pggan import GrowingGAN, PGGANDiscriminator
from zoo.nets.stylegan import StyleGANGenerator
from zoo.nets.stylegan2 import mix_styles
from zoo.nn.modulated import NOISE_MODES


class StyleGAN(GrowingGAN, GANModule):
    """Karras 2019: a mapping network z -> w (8 layers, lr multiplier 0.01), a synthesis network from a learned
    constant with AdaIN styles and per-layer noise (Sec. 2, Fig. 1b), style mixing regularization with probability
    0.9 (Sec. 3.1), bilinear up/downsampling, PGGAN's D with blur; the non-saturating logistic loss with R1,
    gamma 10, on every D step (App. C), Adam lr 0.001 betas (0, 0.99) eps 1e-8, progressive growing (the phases
    come from callbacks/progressive.py, as PGGAN). Truncation in W (Sec. 4.1, psi 0.7 on the first 8 layers in
    the paper's figures) happens at sampling: ``generator(z, truncation_psi=0.7, truncation_cutoff=8)``, with
    ``w_avg`` tracked in training.

    Samples, FID and the EMA generator see the resolution of the current phase, as PGGAN's.
    """

    conditional = False
    truncation_space = "w"  # --truncation is psi

    @staticmethod
    def scaled_config(resolution: int, devices: int) -> dict[str, int]:
        """Config F scaled to data smaller than the recipe's, as StyleGAN2-ADA's ``auto`` config does (NVlabs
        stylegan2-ada-pytorch train.py, ``cfg_specs['auto']``): fmaps 1 at >= 512 px else 0.5, a 2-layer mapping
        network. In this generator's convention (widths fmap_base / 2**(log2(res) - 1), as NVlabs' TensorFlow
        stylegan2-ada: ``fmap_base = int(spec.fmaps * 16384)``) fmaps 0.5 is config F's 8192. The batch sizes stay
        the recipe's growth table, fitted to the data (zoo/recipe_fit.py)."""
        return {"model.fmap_base": int((1 if resolution >= 512 else 0.5) * 16384), "model.mapping_layers": 2}

    def __init__(
        self,
        resolution: int = 1024,
        channels: int = 3,
        latent_dim: int = 512,
        w_dim: int = 512,
        mapping_layers: int = 8,
        fmap_base: int = 8192,
        fmap_max: int = 512,
        mbstd_group_size: int = 4,
        style_mixing: float = 0.9,
        sample_noise_mode: str = "const",
        objective: str = "non_saturating",
        penalties: list[dict] | None = None,
        g_lr: float = 1e-3,
        d_lr: float = 1e-3,
        g_betas: tuple[float, float] = (0.0, 0.99),
        d_betas: tuple[float, float] = (0.0, 0.99),
        **kwargs,
    ):
        """
        Args:
            resolution: the final image size, linked from the datamodule (a power of two >= 4).
            channels: image channels, linked from the datamodule.
            latent_dim: size of z (512).
            w_dim: size of w (512).
            mapping_layers: depth of the mapping network (8).
            fmap_base: widths are min(fmap_base / 2**(log2(res) - 1), fmap_max) (official code: 8192, 512).
            fmap_max: the widest layer.
            mbstd_group_size: samples per minibatch-stddev group in D (4; the batch must be divisible by it).
            style_mixing: probability of mixing two ws at a random layer in training (0.9; 0: off).
            sample_noise_mode: noise of eval-mode samples: const (reproducible), random (the authors'
                pretrained_example.py), none.
            penalties: D penalties (default: [{name: r1, gamma: 10}] on every step).
        """
        if not 0 <= style_mixing <= 1:
            raise ZooError(f"style_mixing is a probability in [0, 1], got {style_mixing}")
        if sample_noise_mode not in NOISE_MODES:
            raise ZooError(f"sample_noise_mode must be one of {', '.join(NOISE_MODES)}, got '{sample_noise_mode}'")
        super().__init__(
            latent_dim=latent_dim,
            objective=objective,
            penalties=[{"name": "r1", "gamma": 10.0}] if penalties is None else penalties,
            g_lr=g_lr,
            d_lr=d_lr,
            g_betas=g_betas,
            d_betas=d_betas,
            **kwargs,
        )
        self.generator = StyleGANGenerator(latent_dim, w_dim, resolution, channels, fmap_base, fmap_max, mapping_layers)
        self.discriminator = PGGANDiscriminator(
            resolution, channels * self.packing, fmap_base, fmap_max, mbstd_group_size, blur=True
        )

    def generate(self, net: nn.Module, z: Tensor, y: Tensor | None, truncation: float | None = None) -> Tensor:
        """Training: style mixing over the layers of the current phase, noise from the training stream. Eval mode:
        ``sample_noise_mode`` noise."""
        if not net.training:
            psi = 1.0 if truncation is None else truncation
            return net(z, y, truncation_psi=psi, noise_mode=self.hparams.sample_noise_mode)
        active = net.synthesis.num_active_ws
        ws = mix_styles(net.mapping, z, y, self.hparams.style_mixing, self._latent_rng, active)
        return net.synthesis(ws, rng=self._latent_rng)

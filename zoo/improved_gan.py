"""Improved GAN (Salimans et al. 2016, "Improved Techniques for Training GANs", arXiv 1606.03498)."""

from __future__ import annotations

from torch import Tensor, nn

from zoo.nn.improved_gan import HistoricalAverage, MinibatchDiscrimination, ReferenceBatchGenerator
from zoo.standard import StandardGAN


class FeatureDiscriminator(nn.Module):
    """A standard D's hidden layers, then optional minibatch discrimination, then one linear output."""

    def __init__(self, standard: nn.Module, minibatch_kernels: int, minibatch_kernel_dim: int):
        super().__init__()
        *hidden, last = standard.net
        self.trunk = nn.Sequential(*hidden)
        feature_dim = last.in_features if isinstance(last, nn.Linear) else last.in_channels * last.kernel_size[0] ** 2
        self.minibatch = (
            MinibatchDiscrimination(feature_dim, minibatch_kernels, minibatch_kernel_dim) if minibatch_kernels else None
        )
        self.head = nn.Linear(self.minibatch.out_features if self.minibatch else feature_dim, 1)

    def features(self, x: Tensor) -> Tensor:
        return self.trunk(x).flatten(1)

    def forward(self, x: Tensor) -> Tensor:
        f = self.features(x)
        return self.head(self.minibatch(f) if self.minibatch else f).squeeze(1)


class ImprovedGAN(StandardGAN):
    """Salimans 2016: the techniques of Sec. 3 on DCGAN networks (toy MLPs for points), each switchable.

    Feature matching (Sec. 3.1): G minimizes ||E f(x) - E f(G(z))||_2^2 over D's last hidden layer f instead of
    the adversarial loss. Minibatch discrimination (Sec. 3.2): B = 100 kernels of C = 5 dims before D's output.
    Historical averaging (Sec. 3.3): weight * ||theta - mean of past theta||^2 for both players (the paper gives
    no weight; 1e-3 here). One-sided label smoothing (Sec. 3.4): real targets 0.9. Virtual batch norm (Sec. 3.5)
    in G, from a fixed reference batch of 64 latents.
    """

    def __init__(
        self,
        feature_matching: bool = True,
        minibatch_kernels: int = 100,
        minibatch_kernel_dim: int = 5,
        historical_averaging: float = 1e-3,
        label_smoothing: float = 0.1,
        virtual_batch_norm: bool = True,
        vbn_reference_size: int = 64,
        objective: str = "non_saturating",
        **kwargs,
    ):
        """
        Args:
            feature_matching: G's loss is feature matching instead of the objective's.
            minibatch_kernels: B of minibatch discrimination (0: off).
            minibatch_kernel_dim: C of minibatch discrimination.
            historical_averaging: weight of the historical-averaging penalty of both players (0: off).
            label_smoothing: one-sided label smoothing of the logistic objectives (0: off).
            virtual_batch_norm: virtual batch norm in G instead of batch norm.
            vbn_reference_size: size of G's reference batch.
        """
        self._minibatch = (minibatch_kernels, minibatch_kernel_dim)
        kwargs.setdefault("objective_args", {"label_smoothing": label_smoothing} if label_smoothing else None)
        super().__init__(objective=objective, **kwargs)
        self.feature_matching = feature_matching
        if virtual_batch_norm:
            self.generator = ReferenceBatchGenerator(self.generator, self.latent_dim, vbn_reference_size)
        self.historical_averaging = historical_averaging
        if historical_averaging:
            self.g_history = HistoricalAverage(self.generator.parameters())
            self.d_history = HistoricalAverage(self.discriminator.parameters())

    def build_discriminator(self, input_shape: tuple[int, ...], width: int, norm: str) -> nn.Module:
        return FeatureDiscriminator(super().build_discriminator(input_shape, width, norm), *self._minibatch)

    def discriminator_loss(self, real, y_real, fake, y_fake):
        loss, logs = super().discriminator_loss(real, y_real, fake, y_fake)
        if self.historical_averaging:
            history = self.d_history.penalty(self.discriminator.parameters())
            loss = loss + self.historical_averaging * history
            logs.update({"loss/d": loss, "d/historical_average": history})
        return loss, logs

    def generator_loss(self, fake, y_fake, real, y_real):
        if self.feature_matching:
            real_features = self.discriminator.features(self.pack(real)).mean(0).detach()
            fake_features = self.discriminator.features(self.pack(fake)).mean(0)
            loss = (real_features.float() - fake_features.float()).square().sum()
            logs = {"loss/g": loss}
        else:
            loss, logs = super().generator_loss(fake, y_fake, real, y_real)
        if self.historical_averaging:
            history = self.g_history.penalty(self.generator.parameters())
            loss = loss + self.historical_averaging * history
            logs.update({"loss/g": loss, "g/historical_average": history})
        return loss, logs

    def after_discriminator_step(self) -> None:
        super().after_discriminator_step()
        if self.historical_averaging:
            self.d_history.update(self.discriminator.parameters())

    def after_generator_step(self) -> None:
        if self.historical_averaging:
            self.g_history.update(self.generator.parameters())

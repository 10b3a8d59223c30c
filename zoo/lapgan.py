"""LAPGAN (Denton, Chintala, Szlam and Fergus 2015, "Deep Generative Image Models using a Laplacian Pyramid of
Adversarial Networks", arXiv 1506.05751; reference code facebook/eyescream)."""

from __future__ import annotations

import torch
from torch import Tensor

from zoo.base import GANModule, split_batch
from zoo.errors import ZooError
from zoo.nets.lapgan import (
    BaseLevelDiscriminator,
    BaseLevelGenerator,
    ConvLevelDiscriminator,
    ConvLevelGenerator,
    LaplacianDiscriminator,
    LaplacianGenerator,
    level_resolutions,
)
from zoo.pyramid import gaussian_pyramid, upsample
from zoo.seeding import iteration_seed

#: eyescream's D criterion: BCE averaged over 64 real and 64 fake images (train/conditional_adversarial.lua), half
#: the zoo objective's mean over the reals plus its mean over the fakes
D_LOSS_WEIGHT = 0.5


class LAPGAN(GANModule):
    """Denton 2015: a Laplacian pyramid of conditional GANs. The coarsest level is a class-conditional GAN on the
    low-pass image I_K; every finer level k is a GAN on the band-pass image h_k = I_k - u(I_{k+1}), conditioned
    on the class and on the upsampled coarser image l_k = u(I_{k+1}) (Sec. 3.2-3.3, Eq. 3-4). Sampling goes down
    the pyramid: I_K = G_K(z_K, y), then I_k = l_k + G_k(z_k, y, l_k) with l_k = u(I_{k+1}) (Fig. 1).

    Training (Sec. 3.3, Fig. 2): every level is its own GAN, trained on the real pyramid of the data: the
    coarse image a level is conditioned on is the real one, never a sample of the level above. The zoo trains
    all levels in one run: each iteration takes one real batch, builds its pyramid, and updates every level's D
    and then every level's G, each on its own level's loss. The levels share no parameter and no loss term, so
    the summed loss gives every parameter exactly the gradient of its own level's loss, and one SGD (or Adam)
    over the disjoint parameter sets steps each level as its own optimizer would: the levels stay independent,
    and one run keeps the shared loop's images_seen, checkpoints and resume. (``grad_clip_norm`` would couple
    the levels through the global norm; it is refused.)

    Networks are eyescream's class-conditional CIFAR-10 ones (zoo/nets/lapgan.py): an MLP pair at the coarsest
    level, 7x7/7x7/5x5 conv G and 5x5/5x5-stride-2 conv D at every finer level, noise U(-1, 1) (a vector at the
    coarsest level, one plane at each finer one). The paper's CIFAR-10 model (Sec. 4) has an 8x8 base level with
    1200-unit G and 600-unit D layers ([R]: the paper's text as recalled by the project's research brief; the
    eyescream script defaults to 8000/1600 units at 32 px) and conv levels of 64 channels. Training follows
    eyescream (train_cifar_coarse_to_fine_classcond.lua and train/double_conditional_adversarial.lua): binary
    cross-entropy with the non-saturating G loss, one D step per G step, batch 128, plain SGD at lr 0.02 whose
    momentum starts at 0 and grows by 0.0008 per epoch up to 0.7 while the lr is divided by 1.00004 per epoch.
    Torch7's ``optim.sgd`` damps the momentum by default (torch/optim sgd.lua: ``dampening or mom``, so the
    buffer is v = m v + (1 - m) g), which the zoo sets on PyTorch's SGD. eyescream's D loss is one BCE averaged
    over a batch of half real and half fake images, i.e. half the mean over the reals plus half the mean over the
    fakes (``D_LOSS_WEIGHT``); the zoo's D sees a whole batch of each. Other differences: the fakes are
    conditioned on the same real batch's (class, coarse image) pairs where eyescream draws other real examples;
    eyescream standardises CIFAR per channel where the zoo's images are in [-1, 1], the assembled sample is
    clamped to [-1, 1], and the coarsest level's lr is divided by 1.00004 per epoch like the finer ones' where
    train_cifar_classcond.lua divides by 1.000004.
    """

    conditional = True

    def __init__(
        self,
        resolution: int = 32,
        channels: int = 3,
        num_classes: int | None = 10,
        base_resolution: int = 8,
        latent_dim: int = 100,
        base_g_hidden: int = 1200,
        base_d_hidden: int = 600,
        ngf: int = 64,
        ndf: int = 64,
        dropout: float = 0.5,
        momentum: float = 0.0,
        momentum_increment: float = 0.0008,
        momentum_max: float = 0.7,
        lr_epoch_divisor: float = 1.00004,
        optimizer: str = "sgd",
        g_lr: float = 0.02,
        d_lr: float = 0.02,
        **kwargs,
    ):
        """
        Args:
            resolution: image size (the finest level), linked from the datamodule: base_resolution * 2^k.
            channels: image channels, linked from the datamodule.
            num_classes: number of classes, linked from the datamodule (LAPGAN here is class-conditional).
            base_resolution: side of the coarsest level (8 in the paper's CIFAR-10 and the MNIST 8 -> 16 -> 32).
            latent_dim: the coarsest level's noise vector (100); each finer level adds one noise plane, so the
                model's latent has latent_dim + sum of the finer levels' H*W entries.
            base_g_hidden: units of the coarsest G's two hidden layers.
            base_d_hidden: units of the coarsest D's two hidden layers.
            ngf: channels of every finer level's G.
            ndf: channels of every finer level's D.
            dropout: dropout of every D.
            momentum: SGD momentum at the first epoch (eyescream's class-conditional scripts: 0).
            momentum_increment: added to the momentum after every epoch (0.0008).
            momentum_max: the momentum's cap (0.7).
            lr_epoch_divisor: both learning rates are divided by this after every epoch (1.00004; 1: constant).
            optimizer: sgd (eyescream), or adam/adamw/rmsprop (the momentum schedule then does nothing).
            g_lr: generator learning rate (0.02).
            d_lr: discriminator learning rate (0.02).
        """
        if num_classes is None:
            raise ZooError("lapgan is class-conditional: train it on labelled data (--data mnist, cifar10, digits ...)")
        sides = level_resolutions(resolution, base_resolution)
        if sides[-1] != base_resolution or resolution < base_resolution:
            raise ZooError(
                f"lapgan needs resolution = base_resolution * 2^k, got resolution {resolution} and base_resolution "
                f"{base_resolution}; set --data.resolution or --model.base_resolution"
            )
        if kwargs.get("penalties") or kwargs.get("compile") or kwargs.get("grad_clip_norm") is not None:
            raise ZooError("lapgan trains its levels one by one: penalties, compile and grad_clip_norm are unsupported")
        if not 0 <= momentum <= momentum_max < 1:
            raise ZooError(f"lapgan needs 0 <= momentum <= momentum_max < 1, got {momentum} and {momentum_max}")
        if lr_epoch_divisor < 1:
            raise ZooError(f"lr_epoch_divisor must be >= 1, got {lr_epoch_divisor}")
        super().__init__(
            latent_dim=latent_dim, num_classes=num_classes, optimizer=optimizer, g_lr=g_lr, d_lr=d_lr, **kwargs
        )
        base_shape = (channels, base_resolution, base_resolution)
        finer = sides[:-1]
        self.generator = LaplacianGenerator(
            [ConvLevelGenerator(side, channels, num_classes, ngf) for side in finer]
            + [BaseLevelGenerator(latent_dim, num_classes, base_shape, base_g_hidden)],
            sides,
        )
        self.discriminator = LaplacianDiscriminator(
            [ConvLevelDiscriminator(side, channels, num_classes, ndf, dropout) for side in finer]
            + [BaseLevelDiscriminator(num_classes, base_shape, base_d_hidden, dropout)]
        )
        self.latent_dim = sum(self.generator.noise_sizes)

    # ----------------------------------------------------------------------------------- contract

    def sample_latent(self, n: int, generator: torch.Generator | None = None, truncation: float | None = None):
        """n flat latents U(-1, 1) (eyescream's ``noise_inputs:uniform(-1, 1)`` at every level)."""
        if truncation is not None:
            raise ZooError("lapgan draws uniform noise and has no truncation; drop --truncation")
        rng = generator if generator is not None else self._latent_rng
        device = rng.device if rng is not None else self.device
        return (torch.rand(n, self.latent_dim, generator=rng, device=device) * 2 - 1).to(self.device)

    def generate(self, net, z: Tensor, y: Tensor | None, truncation: float | None = None) -> Tensor:
        """The pyramid's sample, clamped to the zoo's image range [-1, 1]."""
        return net(z, y).clamp(-1, 1)

    # ------------------------------------------------------------------------------ the game

    def level_inputs(self, real: Tensor) -> tuple[list[Tensor], list[Tensor | None]]:
        """The real pyramid: each level's target (h_k = I_k - l_k, finest first, then I_K) and condition
        (l_k = u(I_{k+1}); None for the coarsest level)."""
        gaussian = gaussian_pyramid(real, len(self.generator.levels))
        conditions = [upsample(coarse) for coarse in gaussian[1:]]
        targets = [fine - low for fine, low in zip(gaussian[:-1], conditions)] + [gaussian[-1]]
        return targets, [*conditions, None]

    def level_losses(self, player: str, targets, fakes, labels, conditions) -> list[Tensor]:
        """``player``'s loss at every level, finest first, each from its own level's D."""
        losses = []
        for d_net, target, fake, condition in zip(self.discriminator.levels, targets, fakes, conditions):
            fake_out = d_net(fake, labels, condition)
            if player == "d":
                losses.append(D_LOSS_WEIGHT * self.objective.d_loss(d_net(target, labels, condition), fake_out))
            else:
                losses.append(self.objective.g_loss(fake_out))
        return losses

    def training_step(self, batch, batch_idx: int) -> None:
        """One iteration: every level's D on its real targets against its fakes, then every level's G (every
        ``d_steps``-th iteration). The global RNG, which dropout draws from, is seeded from (seed, rank,
        iteration), so a resumed run draws the masks the uninterrupted run would (as CGAN's)."""
        torch.manual_seed(iteration_seed(self._seed + 1, self.global_rank, self.iterations))
        real, labels = split_batch(batch)
        n = real.shape[0]
        d_opt, g_opt = self.start_iteration()
        generator_turn = (self.iterations + 1) % self.hparams.d_steps == 0
        targets, conditions = self.level_inputs(real)
        noises = self.generator.split_noise(self.sample_latent(n))
        with torch.set_grad_enabled(generator_turn):
            fakes = [g(z, labels, c) for g, z, c in zip(self.generator.levels, noises, conditions)]

        with self.toggled_optimizer(d_opt):
            d_losses = self.level_losses("d", targets, [f.detach() for f in fakes], labels, conditions)
            d_loss = sum(d_losses)
            d_opt.zero_grad(set_to_none=True)
            self.manual_backward(d_loss)
            d_opt.step()
        logs = {"loss/d": d_loss, **{f"loss/d_level{k}": loss for k, loss in enumerate(d_losses)}}
        losses = [d_loss]
        if generator_turn:
            with self.toggled_optimizer(g_opt):
                g_losses = self.level_losses("g", targets, fakes, labels, conditions)
                g_loss = sum(g_losses)
                g_opt.zero_grad(set_to_none=True)
                self.manual_backward(g_loss)
                g_opt.step()
                self.after_generator_step()
            self.generator_steps += 1
            logs.update({"loss/g": g_loss, **{f"loss/g_level{k}": loss for k, loss in enumerate(g_losses)}})
            losses.append(g_loss)
        self.finish_iteration(n, losses, logs)

    # --------------------------------------------------------------------------- optimization

    def start_iteration(self):
        """The shared start, then eyescream's per-epoch SGD schedule: in epoch e the momentum is m0 + 0.0008 e (at
        most 0.7), damped as Torch7's optim.sgd damps it (dampening = momentum), and each learning rate
        lr / 1.00004^e (at least 1e-6), times ``lr_decay_kimg``'s factor if set."""
        d_opt, g_opt = super().start_iteration()
        h, epoch = self.hparams, self.trainer.current_epoch
        momentum = min(h.momentum + h.momentum_increment * epoch, h.momentum_max)
        factor = self.lr_factor()
        for opt, lr in ((d_opt, h.d_lr), (g_opt, h.g_lr)):
            for group in opt.param_groups:
                group["lr"] = max(lr / h.lr_epoch_divisor**epoch, 1e-6) * (1.0 if factor is None else factor)
                if h.optimizer == "sgd":
                    group["momentum"] = group["dampening"] = momentum
        return d_opt, g_opt

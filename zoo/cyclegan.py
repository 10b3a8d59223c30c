"""CycleGAN (Zhu, Park, Isola and Efros 2017, "Unpaired Image-to-Image Translation using Cycle-Consistent
Adversarial Networks", ICCV, arXiv 1703.10593)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zoo.errors import ZooError
from zoo.nets.translation import PatchDiscriminator, ResnetTranslator
from zoo.nn.init import normal_init
from zoo.translation import TranslationGAN, reject_knobs


class ImagePool:
    """The history of generated images (Shrivastava et al. 2017, Sec. 2.3) that CycleGAN's discriminators train on
    (Zhu et al. 2017, Sec. 4): the first ``size`` fakes fill the pool and pass through; after that each new fake
    is, with probability 1/2, swapped for the image in a random slot (D sees the old one, the new one takes the
    slot), else passed through. ``size`` 0 turns it off.

    The draws come from the caller's generator (the model's per-iteration stream), and the pool is part of the
    checkpoint, so a resumed run draws the same history. Under DDP each rank keeps its own pool."""

    def __init__(self, size: int):
        if size < 0:
            raise ZooError(f"pool_size must be >= 0, got {size}")
        self.size = size
        self.images: Tensor | None = None
        self.filled = 0

    def query(self, fakes: Tensor, rng: torch.Generator) -> Tensor:
        """The images D sees for ``fakes`` (detached), updating the pool on the device (no host sync)."""
        if self.size == 0:
            return fakes
        if self.images is None:
            self.images = fakes.new_zeros(self.size, *fakes.shape[1:])
        self.images = self.images.to(device=fakes.device, dtype=fakes.dtype)
        swap = torch.rand(len(fakes), generator=rng, device=rng.device).to(fakes.device) < 0.5
        slot = torch.randint(self.size, (len(fakes),), generator=rng, device=rng.device).to(fakes.device)
        shown = []
        for i, fake in enumerate(fakes.split(1)):
            if self.filled < self.size:
                self.images[self.filled] = fake[0]
                self.filled += 1
                shown.append(fake)
                continue
            stored = self.images.index_select(0, slot[i : i + 1])
            shown.append(torch.where(swap[i], stored, fake))
            self.images.index_copy_(0, slot[i : i + 1], torch.where(swap[i], fake, stored))
        return torch.cat(shown)

    def state(self) -> dict:
        return {"images": None if self.images is None else self.images.cpu().clone(), "filled": self.filled}

    def load(self, state: dict) -> None:
        self.images = None if state["images"] is None else state["images"].clone()
        self.filled = int(state["filled"])


def least_squares(outputs: Tensor, target: float) -> Tensor:
    """E[(D(.) - target)^2] over every patch: the least-squares GAN loss (Mao et al. 2017) that CycleGAN uses in
    place of the log likelihood (Sec. 4, "Training details"). Not the zoo's ``least_squares`` objective: that one
    halves G's term as Mao's Eq. 2 does, while CycleGAN halves only D's, which sets the balance with the cycle loss."""
    return (outputs.float() - target).square().mean()


class CycleGAN(TranslationGAN):
    """Zhu 2017: translators G: A->B and F: B->A, 70x70 PatchGANs D_A, D_B, least squares, cycle and identity losses.

    Each iteration takes one image of each domain per sample (unaligned) and, as the reference code does,
    updates the translators first, then the discriminators on fakes drawn through the image pools:

    - G and F minimize E[(D_B(G(a)) - 1)^2] + E[(D_A(F(b)) - 1)^2] (Eq. 1 with least squares)
      + lambda_cycle (|F(G(a)) - a|_1 + |G(F(b)) - b|_1) (Eq. 2, 3)
      + lambda_cycle * lambda_identity (|G(b) - b|_1 + |F(a) - a|_1) (the identity loss of Sec. 5.2, weighted
      relative to the cycle loss as in the reference code);
    - D_A and D_B each minimize (E[(D(x) - 1)^2] + E[D(fake)^2]) / 2: "we divide the objective by 2 while
      optimizing D, which slows down the rate at which D learns relative to G" (Sec. 4).

    Adam (lr 2e-4, betas 0.5, 0.999), weights from N(0, 0.02), batch size 1, and the learning rate constant for
    100 epochs, then decaying linearly towards zero over 100 more, in steps per epoch as the reference code does.
    """

    default_data = "unpaired"

    def __init__(
        self,
        resolution: int = 256,
        channels: int = 3,
        width: int = 64,
        blocks: int | None = None,
        d_width: int = 64,
        d_layers: int = 3,
        lambda_cycle: float = 10.0,
        lambda_identity: float = 0.5,
        pool_size: int = 50,
        lr_decay_epochs: tuple[int, int] | None = (100, 100),
        objective: str | None = None,
        g_lr: float = 2e-4,
        d_lr: float = 2e-4,
        **kwargs,
    ):
        """
        Args:
            resolution: image size, linked from the datamodule (a multiple of 4).
            channels: image channels of both domains, linked from the datamodule.
            width: channels of the translators' first layer (ngf, 64).
            blocks: residual blocks of the translators (None: 9 at 256 px and above, 6 below, as the paper).
            d_width: channels of the PatchGAN's first layer (ndf, 64).
            d_layers: PatchGAN depth after its first layer (3: 70x70 patches; 2: 34x34, for small images).
            lambda_cycle: weight of the cycle-consistency loss (10).
            lambda_identity: weight of the identity loss relative to lambda_cycle (0.5; 0: off).
            pool_size: images in each discriminator's history pool (50; 0: off).
            lr_decay_epochs: (constant, decay): epochs at the initial learning rate, then epochs of linear decay
                (train for their sum, e.g. --trainer.max_epochs 200); None: constant.
            objective: must stay None: CycleGAN's least-squares losses are its own.
        """
        if objective is not None:
            raise ZooError("cyclegan trains on its own least-squares losses; --model.objective does not apply to it")
        reject_knobs(
            "cyclegan",
            kwargs,
            {
                "lr_decay_kimg": None,
                "d_steps": 1,
                "packing": 1,
                "num_classes": None,
                "penalties": None,
                "augment": "none",
            },
            "it schedules the learning rate with --model.lr_decay_epochs and updates both players once per "
            "iteration on unpaired images, with its own losses",
        )
        if resolution % 4:
            raise ZooError(f"cyclegan downsamples twice: --data.resolution must be a multiple of 4, not {resolution}")
        if resolution < 3 * 2**d_layers:
            raise ZooError(
                f"a PatchGAN with d_layers={d_layers} needs images of at least {3 * 2**d_layers} px, got {resolution}; "
                "lower --model.d_layers or raise --data.resolution"
            )
        super().__init__(latent_dim=0, objective=None, g_lr=g_lr, d_lr=d_lr, **kwargs)
        blocks = blocks if blocks is not None else (9 if resolution >= 256 else 6)
        self.generator = nn.ModuleDict(
            {direction: ResnetTranslator(channels, channels, width, blocks) for direction in ("a_to_b", "b_to_a")}
        )
        self.discriminator = nn.ModuleDict({side: PatchDiscriminator(channels, d_width, d_layers) for side in "ab"})
        normal_init(self.generator, 0.02)
        normal_init(self.discriminator, 0.02)
        self.pools = {side: ImagePool(pool_size) for side in "ab"}

    # ------------------------------------------------------------------------------------------- the game

    def translator_losses(self, real_a: Tensor, real_b: Tensor) -> tuple[Tensor, dict, Tensor, Tensor]:
        """The translators' loss (the class docstring), its parts for the logs, and the fakes G(a), F(b)."""
        g, f = self.generator["a_to_b"], self.generator["b_to_a"]
        fake_b, fake_a = g(real_a), f(real_b)
        adversarial = least_squares(self.discriminator["b"](fake_b), 1.0) + least_squares(
            self.discriminator["a"](fake_a), 1.0
        )
        cycle = F.l1_loss(f(fake_b), real_a) + F.l1_loss(g(fake_a), real_b)
        loss = adversarial + self.hparams.lambda_cycle * cycle
        logs = {"g/adversarial": adversarial, "g/cycle": cycle}
        if self.hparams.lambda_identity > 0:
            identity = F.l1_loss(g(real_b), real_b) + F.l1_loss(f(real_a), real_a)
            loss = loss + self.hparams.lambda_cycle * self.hparams.lambda_identity * identity
            logs["g/identity"] = identity
        logs["loss/g"] = loss
        return loss, logs, fake_a, fake_b

    def discriminator_losses(self, real_a: Tensor, real_b: Tensor, fake_a: Tensor, fake_b: Tensor):
        """D_A's and D_B's halved least-squares losses, summed (their parameters are disjoint)."""
        logs, total = {}, 0.0
        for side, real, fake in (("a", real_a, fake_a), ("b", real_b, fake_b)):
            d = self.discriminator[side]
            real_out, fake_out = d(real), d(fake)
            loss = 0.5 * (least_squares(real_out, 1.0) + least_squares(fake_out, 0.0))
            logs.update({f"d_{side}/loss": loss, f"d_{side}/real": real_out.mean(), f"d_{side}/fake": fake_out.mean()})
            total = total + loss
        logs["loss/d"] = total
        return total, logs

    def training_step(self, batch, batch_idx: int) -> None:
        real_a, real_b = batch
        if self.hparams.channels_last:
            real_a, real_b = (x.contiguous(memory_format=torch.channels_last) for x in (real_a, real_b))
        d_opt, g_opt = self.start_iteration()

        with self.toggled_optimizer(g_opt):
            g_loss, logs, fake_a, fake_b = self.translator_losses(real_a, real_b)
            g_opt.zero_grad(set_to_none=True)
            self.manual_backward(g_loss)
            g_opt.step()
            self.after_generator_step()
        self.generator_steps += 1

        with self.toggled_optimizer(d_opt):
            pooled_a = self.pools["a"].query(fake_a.detach(), self._latent_rng)
            pooled_b = self.pools["b"].query(fake_b.detach(), self._latent_rng)
            d_loss, d_logs = self.discriminator_losses(real_a, real_b, pooled_a, pooled_b)
            d_opt.zero_grad(set_to_none=True)
            self.manual_backward(d_loss)
            d_opt.step()
            self.after_discriminator_step()
        logs.update(d_logs)
        self.finish_iteration(real_a.shape[0], [g_loss, d_loss], logs)

    def lr_factor(self) -> float | None:
        """1 for the first ``constant`` epochs, then 1 - (epoch + 1 - constant) / (decay + 1) per epoch (the
        reference code's linear rule, epochs counted from 0)."""
        if self.hparams.lr_decay_epochs is None:
            return None
        constant, decay = self.hparams.lr_decay_epochs
        return max(0.0, 1.0 - max(0, self.current_epoch + 1 - constant) / (decay + 1))

    def compile_networks(self) -> None:
        for net in (*self.generator.values(), *self.discriminator.values()):
            net.compile()

    # ------------------------------------------------------------------------------------------- sampling

    def run_translator(self, net: nn.Module, images: Tensor, labels: Tensor | None, direction: str) -> Tensor:
        if direction not in ("a_to_b", "b_to_a"):
            raise ZooError(f"cyclegan translates a_to_b or b_to_a, got '{direction}'")
        return net[direction](images)

    def translation_picture(self, examples: list[Tensor]) -> tuple[Tensor, int]:
        """Rows a, G(a), F(G(a)), b, F(b), G(F(b)) for the examples' images of A and B."""
        real_a, real_b = (x.to(self.device) for x in examples[:2])
        fake_b = self.translate(real_a, direction="a_to_b")
        fake_a = self.translate(real_b, direction="b_to_a")
        rows = [real_a, fake_b, self.translate(fake_b, direction="b_to_a")]
        rows += [real_b, fake_a, self.translate(fake_a, direction="a_to_b")]
        return torch.cat([row.float().cpu() for row in rows]), len(real_a)

    # ---------------------------------------------------------------------------------------- persistence

    def get_extra_state(self) -> dict:
        return {**super().get_extra_state(), "pools": {side: pool.state() for side, pool in self.pools.items()}}

    def set_extra_state(self, state: dict) -> None:
        super().set_extra_state(state)
        for side, pool in self.pools.items():
            pool.load(state["pools"][side])

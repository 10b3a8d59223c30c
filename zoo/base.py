"""``GANModule``: the manual-optimization loop every zoo entry shares.

One training iteration consumes one real batch (per rank) and does:

1. one discriminator update on that batch against fresh fakes, and
2. every ``d_steps``-th iteration, one generator update that reuses those fakes (one G forward per
   iteration, as the reference DCGAN loop does), so ``d_steps=5`` is WGAN's n_critic.

Schedules are measured in ``images_seen`` (real images shown to D, summed over ranks; kimg = 1000),
not in ``trainer.global_step``: under manual optimization Lightning counts every ``optimizer.step()``,
so one D+G iteration is 2 "steps" (d_steps=1) and ``--trainer.max_steps`` is in those units.

Latents are drawn from a generator reseeded every iteration from (seed, global rank, iteration),
so ranks never share noise and a resumed run draws exactly the noise the uninterrupted run would.

Entries build ``self.generator`` and ``self.discriminator`` after ``super().__init__`` and override
``discriminator_loss`` / ``generator_loss`` only where their paper differs.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Iterator

import pytorch_lightning as pl
import torch
from torch import Tensor, nn

from zoo.augment import make_augmentation
from zoo.errors import ZooError
from zoo.objectives import make_objective
from zoo.penalties import Critic, PenaltyInputs, configure_penalty
from zoo.seeding import iteration_seed, run_seed

OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "rmsprop": torch.optim.RMSprop,
    "sgd": torch.optim.SGD,
}


def make_optimizer(name: str, params: Iterator[nn.Parameter], lr: float, betas: tuple[float, float]):
    """Builds an optimizer by name; ``betas`` applies to the Adam family only."""
    if name not in OPTIMIZERS:
        raise ZooError(f"unknown optimizer '{name}'; choose one of: {', '.join(OPTIMIZERS)}")
    kwargs = {"betas": tuple(betas)} if name in ("adam", "adamw") else {}
    return OPTIMIZERS[name](params, lr=lr, **kwargs)


def check_optimizer_settings(lrs: dict[str, float], betas: dict[str, tuple], grad_clip_norm: float | None) -> None:
    """Refuses learning rates, Adam betas and clipping norms that no optimizer can use, naming the value. A
    None learning rate is left to the entry (StyleGAN2 takes its preset's)."""
    for name, lr in lrs.items():
        if lr is not None and not lr > 0:
            raise ZooError(f"{name} must be > 0, got {lr}")
    for name, pair in betas.items():
        if not all(0 <= beta < 1 for beta in pair):
            raise ZooError(f"{name} must be two numbers in [0, 1), got {tuple(pair)}")
    if grad_clip_norm is not None and not grad_clip_norm > 0:
        raise ZooError(f"grad_clip_norm must be > 0 (or null: no clipping), got {grad_clip_norm}")


class GANModule(pl.LightningModule):
    """Shared GAN training loop and the model contract of DESIGN.md.

    Contract: ``generator``, ``discriminator``, ``latent_dim``, ``num_classes``, ``sample_latent``,
    ``forward(z, y)``, ``sample(n, y, truncation, seed)`` and ``images_seen``.
    """

    #: datamodule used when ``--data`` is not given on the command line
    default_data = "digits"
    #: constructor arguments a resumed run may change (``fit --ckpt_path C --model.g_lr 1e-4``): training knobs that
    #: leave the networks and the optimizers' state as they are; any other changed value is refused (zoo/resume.py)
    resume_overridable = frozenset(
        {
            "g_lr", "d_lr", "g_betas", "d_betas", "grad_clip_norm", "lr_decay_kimg", "lr_decay_epochs", "weight_clip",
            "d_steps", "penalties", "r1_gamma", "gamma", "pl_weight", "pl_interval", "pl_decay", "style_mixing",
            "lambda_cycle", "lambda_identity", "lambda_cls", "lambda_rec", "lambda_categorical", "lambda_continuous",
            "lambda_k", "label_smoothing", "channels_last", "compile", "sample_noise_mode", "schedule", "num_fp16_res",
            "low_precision", "nan_to_num_gradients", "ada_target", "ada_kimg",
        }
    )  # fmt: skip
    #: whether training keeps the datamodule's labels although the entry has no classes (StarGAN's attributes)
    uses_attribute_labels = False
    #: whether every gradient is sanitized before each optimizer step (``sanitize_gradients``); StyleGAN2 sets it
    nan_to_num_gradients = False
    #: what this entry's saved weights mean and how they load (zoo/checkpoint_format.py): raised by the entry on
    #: every change that alters them, with a ``migrate_checkpoint`` from the previous format
    checkpoint_format = 1

    def __init__(
        self,
        latent_dim: int = 100,
        num_classes: int | None = None,
        objective: str | None = "non_saturating",
        objective_args: dict | None = None,
        penalties: list[dict] | None = None,
        d_steps: int = 1,
        optimizer: str = "adam",
        g_lr: float = 2e-4,
        d_lr: float = 2e-4,
        g_betas: tuple[float, float] = (0.5, 0.999),
        d_betas: tuple[float, float] = (0.5, 0.999),
        grad_clip_norm: float | None = None,
        lr_decay_kimg: tuple[float, float] | None = None,
        weight_clip: float | None = None,
        packing: int = 1,
        channels_last: bool = False,
        compile: bool = False,
        seed: int | None = None,
        augment: str = "none",
        augment_p: float = 0.0,
        ada_target: float = 0.6,
        ada_kimg: float = 500.0,
        augment_pipe: str = "bgc",
        diffaugment_policy: str = "color,translation,cutout",
    ):
        """
        Args:
            latent_dim: size of the latent vector z.
            num_classes: number of classes for conditional entries (None: unconditional).
            objective: adversarial loss, a name registered in zoo/objectives.py (None: the entry's own losses).
            objective_args: the objective's own arguments, e.g. {divergence: kl} for fgan,
                {a: -1, b: 1, c: 0} for least_squares, {label_smoothing: 0.1} for the GAN losses.
            penalties: regularizers added to a player's loss, each a dict with ``name`` (gp, dragan, r1, r2 for
                D; orthogonal, mode_seeking for G), optional ``interval`` (lazy: every N-th step of that player,
                scaled by N) and the penalty's own arguments, e.g. [{name: gp, weight: 10}] or
                [{name: r1, gamma: 10, interval: 16}] (zoo/penalties.py).
            d_steps: discriminator updates per generator update (n_critic).
            optimizer: adam, adamw, rmsprop or sgd, for both networks.
            g_lr: generator learning rate.
            d_lr: discriminator learning rate (differs from g_lr for TTUR).
            g_betas: Adam betas of the generator.
            d_betas: Adam betas of the discriminator.
            grad_clip_norm: clip each network's gradient norm to this value (None: no clipping).
            lr_decay_kimg: (start, end): both learning rates decay linearly to 0 between these many
                thousand real images (as CycleGAN's second half of training); None: constant.
            weight_clip: clamp every discriminator parameter to [-c, c] after each D update (WGAN's
                Lipschitz constraint, Arjovsky et al. 2017, Algorithm 1); None: no clipping.
            packing: PacGAN's degree m (Lin et al. 2018, Sec. 3): D judges m samples at once, concatenated
                along channels (images) or features (points), all real or all fake. 1: no packing.
            channels_last: NHWC memory layout for conv nets and real batches (faster convs on
                tensor-core GPUs, especially with bf16).
            compile: torch.compile the generator and the discriminator, each on its own and in place (parameter
                names, checkpoints and the EMA copy stay as they are). Penalties that differentiate twice (R1, R2,
                WGAN-GP, DRAGAN, path length) run both networks eagerly: compiled code has no double backward.
            seed: base seed of the latent noise (None: the run's seed_everything value).
            augment: what every image D sees (real and fake, penalties included) goes through in training
                (zoo/augment/): none; ada, StyleGAN2-ADA's adaptive augmentation (Karras et al. 2020, Sec. 3: the
                pipeline ``augment_pipe`` with probability p, steered by r_t = E[sign(D(real))] toward
                ``ada_target``); fixed, that pipeline at the constant p ``augment_p``; diffaugment, DiffAugment
                (Zhao et al. 2020) with ``diffaugment_policy``.
            augment_p: ada's initial p, fixed's constant p (0).
            ada_target: ada's target for r_t (0.6, the paper's).
            ada_kimg: ada's speed: p can change by 1 in this many thousand real images (500, the paper's).
            augment_pipe: ada/fixed pipeline: blit, geom, color, filter, noise, cutout, bg, bgc (the paper's
                default), bgcf, bgcfn, bgcfnc (StyleGAN2-ADA's train.py names).
            diffaugment_policy: DiffAugment's transforms, comma-separated: color, translation, cutout.
        """
        super().__init__()
        if d_steps < 1:
            raise ZooError(f"d_steps must be >= 1, got {d_steps}")
        if packing < 1:
            raise ZooError(f"packing must be >= 1, got {packing}")
        if packing > 1 and num_classes is not None:
            raise ZooError("packing is for unconditional entries: a pack mixes samples of different classes")
        if weight_clip is not None and weight_clip <= 0:
            raise ZooError(f"weight_clip must be > 0, got {weight_clip}")
        if lr_decay_kimg is not None and not 0 <= lr_decay_kimg[0] < lr_decay_kimg[1]:
            raise ZooError(f"lr_decay_kimg must be (start, end) with 0 <= start < end, got {lr_decay_kimg}")
        check_optimizer_settings({"g_lr": g_lr, "d_lr": d_lr}, {"g_betas": g_betas, "d_betas": d_betas}, grad_clip_norm)
        if augment != "none" and type(self).discriminate is not GANModule.discriminate:
            raise ZooError(
                f"--model.augment {augment} needs the shared discriminate(); {type(self).__name__} has its own: "
                "use --model.augment none"
            )
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.latent_dim = latent_dim
        self.num_classes = num_classes
        self.objective = make_objective(objective, **(objective_args or {})) if objective else None
        self.penalties = [configure_penalty(spec) for spec in penalties or []]
        self.packing = packing
        self.augmentation = make_augmentation(
            augment, augment_p, ada_target, ada_kimg, augment_pipe, diffaugment_policy
        )
        self.augmented = False  # whether discriminate() has augmented a batch: an entry that never does is refused
        self.images_seen = 0
        self.iterations = 0
        self.generator_steps = 0
        self.last_losses: dict[str, Tensor] = {}  # "loss/d", "loss/g" of the latest iteration that computed each
        self.generator_ema: nn.Module | None = None
        self._latent_rng: torch.Generator | None = None
        # first iteration whose losses were not finite (-1: none); written on device, read by NonFiniteGuard
        self.register_buffer("nonfinite_iteration", torch.tensor(-1, dtype=torch.long), persistent=False)

    # ----------------------------------------------------------------------------------- contract

    #: where ``truncation`` acts: "z" resamples every |z_i| above it when latents are drawn (BigGAN's truncation
    #: trick, Brock et al. 2019, Sec. 3.1); style entries set "w", where it is psi, w' = w_avg + psi (w - w_avg),
    #: applied by their ``generate`` (Karras et al. 2019, Sec. 4.1)
    truncation_space = "z"

    def sample_latent(
        self, n: int, generator: torch.Generator | None = None, truncation: float | None = None
    ) -> Tensor:
        """n latent vectors from N(0, I). ``truncation`` resamples every |z_i| > truncation when the entry
        truncates in Z (``truncation_space``). Without ``generator`` the training noise stream is used."""
        rng = generator if generator is not None else self._latent_rng
        device = rng.device if rng is not None else self.device
        z = torch.randn(n, self.latent_dim, generator=rng, device=device)
        if truncation is not None and self.truncation_space == "z":
            if truncation <= 0:
                raise ZooError(f"truncation must be > 0, got {truncation}")
            while (outside := z.abs() > truncation).any():
                z = torch.where(outside, torch.randn(z.shape, generator=rng, device=device), z)
        return z.to(self.device)

    def sample_labels(self, n: int, generator: torch.Generator | None = None) -> Tensor | None:
        """Uniform class labels for conditional entries; None for unconditional ones."""
        if self.num_classes is None:
            return None
        rng = generator if generator is not None else self._latent_rng
        device = rng.device if rng is not None else self.device
        return torch.randint(self.num_classes, (n,), generator=rng, device=device).to(self.device)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """Images from the training generator."""
        return self.generate(self.generator, z, y)

    @torch.no_grad()
    def sample(
        self, n: int, y: Tensor | None = None, truncation: float | None = None, seed: int | None = None
    ) -> Tensor:
        """n samples in eval mode from the EMA generator when one exists, else the training generator.
        With ``seed`` the result is the same on every device and at every point of training."""
        rng = torch.Generator().manual_seed(seed) if seed is not None else None
        if rng is None and self._latent_rng is None:
            rng = torch.Generator().manual_seed(0)
        z = self.sample_latent(n, generator=rng, truncation=truncation)
        if y is None:
            y = self.sample_labels(n, generator=rng)
        net = self.generator_ema if self.generator_ema is not None else self.generator
        with eval_mode(net):
            return self.generate(net, z, y, truncation)

    def generate(self, net: nn.Module, z: Tensor, y: Tensor | None, truncation: float | None = None) -> Tensor:
        """Runs a generator network; conditional entries receive the labels as a second argument. ``truncation``
        is for entries that truncate in W (``truncation_space``); Z-space entries got truncated latents."""
        return net(z) if y is None else net(z, y)

    def discriminate(self, x: Tensor, y: Tensor | None) -> Tensor:
        """Discriminator outputs, one per sample (one per pack of ``packing`` samples); in training, of the
        augmented images (``augment``; a penalty's input gradient is then w.r.t. the un-augmented image, as in
        NVlabs' ``run_D``)."""
        if self.augmentation is not None and self.training:
            x = self.augmentation(x, self._latent_rng)
            self.augmented = True
        x = self.pack(x)
        return self.discriminator(x) if y is None else self.discriminator(x, y)

    def pack(self, x: Tensor) -> Tensor:
        """PacGAN packing: consecutive groups of m samples become one input with m times the channels."""
        m = self.packing
        if m == 1:
            return x
        if x.shape[0] % m:
            raise ZooError(f"packing {m} needs a batch size divisible by {m}, got {x.shape[0]}; set --data.batch_size")
        return x.reshape(x.shape[0] // m, m * x.shape[1], *x.shape[2:])

    def packed_shape(self, sample_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The shape of one discriminator input under packing: build D for this shape."""
        return (sample_shape[0] * self.packing, *sample_shape[1:])

    # ------------------------------------------------------------------------------ the game

    def discriminator_loss(self, real: Tensor, y_real: Tensor | None, fake: Tensor, y_fake: Tensor | None):
        """The loss D minimizes and the values to log. Entries add penalties here."""
        real_out = self.discriminate(real, y_real)
        fake_out = self.discriminate(fake, y_fake)
        self.observe_real_logits(real_out)
        loss = self.objective.d_loss(real_out, fake_out)
        return loss, {"loss/d": loss, "d/real": real_out.mean(), "d/fake": fake_out.mean()}

    def observe_real_logits(self, logits: Tensor) -> None:
        """D's outputs on a real batch in a D update: ADA's overfitting statistic r_t (a no-op without ADA).
        Entries with their own D loss call it on their real outputs."""
        if self.augmentation is not None:
            self.augmentation.observe_real_logits(logits)

    def generator_loss(self, fake: Tensor, y_fake: Tensor | None, real: Tensor, y_real: Tensor | None):
        """The loss G minimizes and the values to log."""
        real_out = self.discriminate(real, y_real) if self.objective.g_needs_real else None
        loss = self.objective.g_loss(self.discriminate(fake, y_fake), real_out)
        return loss, {"loss/g": loss}

    def real_batch(self, batch) -> tuple[Tensor, Tensor | None]:
        """(images, labels) of a training batch as the game uses them: channels_last when asked, no labels for an
        unconditional entry."""
        real, y_real = split_batch(batch)
        if self.hparams.channels_last and real.dim() == 4:
            real = real.contiguous(memory_format=torch.channels_last)
        if self.num_classes is None and not self.uses_attribute_labels:
            y_real = None
        return real, y_real

    def training_step(self, batch, batch_idx: int) -> None:
        real, y_real = self.real_batch(batch)
        n = real.shape[0]
        d_opt, g_opt = self.start_iteration()
        generator_turn = (self.iterations + 1) % self.hparams.d_steps == 0

        z, y_fake = self.generator_inputs(real, y_real)
        with torch.set_grad_enabled(generator_turn):
            fake = self.generate(self.generator, z, y_fake)

        with self.toggled_optimizer(d_opt):
            d_loss, logs = self.discriminator_loss(real, y_real, fake.detach(), y_fake)
            d_loss = d_loss + self.penalty_terms("d", self.iterations, real, y_real, fake.detach(), z, logs)
            d_opt.zero_grad(set_to_none=True)
            self.manual_backward(d_loss)
            d_opt.step()
            self.after_discriminator_step()
        losses = [d_loss]

        if generator_turn:
            with self.toggled_optimizer(g_opt):
                g_loss, g_logs = self.generator_loss(fake, y_fake, real, y_real)
                g_loss = g_loss + self.penalty_terms("g", self.generator_steps, real, y_real, fake, z, g_logs)
                g_opt.zero_grad(set_to_none=True)
                self.manual_backward(g_loss)
                g_opt.step()
                self.after_generator_step()
            self.generator_steps += 1
            logs.update(g_logs)
            losses.append(g_loss)
        self.finish_iteration(n, losses, logs)

    def finish_iteration(self, n: int, losses: list[Tensor], logs: dict[str, Tensor]) -> None:
        """The end of every training iteration of ``n`` real samples (per rank): the non-finite check, the
        counters (``images_seen`` sums over ranks), the last losses for the progress bar (kept on the device: the bar
        reads them when it refreshes, callbacks/progress.py) and the logs, on Lightning's cadence (no per-step sync)."""
        self._record_nonfinite(losses)
        self.iterations += 1
        self.images_seen += n * self.trainer.world_size
        if self.augmentation is not None:
            if not self.augmented:
                raise ZooError(
                    f"--model.augment {self.hparams.augment} would do nothing: {type(self).__name__}'s training step "
                    "calls its discriminator without discriminate(), where augmentation happens; use --model.augment "
                    "none"
                )
            reduce_sum = functools.partial(self.trainer.strategy.reduce, reduce_op="sum")
            self.augmentation.end_iteration(self.iterations, n * self.trainer.world_size, reduce_sum)
        self.last_losses.update({k: logs[k].detach() for k in ("loss/d", "loss/g") if k in logs})
        if self.trainer._logger_connector.should_update_logs:
            if self.augmentation is not None:
                logs.update(self.augmentation.logs())
            logs = {k: v.detach() for k, v in logs.items()}
            self.log_dict({**logs, "kimg": self.images_seen / 1000}, batch_size=n)

    def generator_inputs(self, real: Tensor, y_real: Tensor | None) -> tuple[Tensor, Tensor | None]:
        """What G turns into this iteration's fakes, (z, labels): fresh latents and labels. An image-to-image entry
        returns the real images and their target domains instead."""
        n = real.shape[0]
        return self.sample_latent(n), self.sample_fake_labels(n)

    def start_iteration(self):
        """The start of every training iteration: reseeds the noise stream from (seed, rank, iteration), applies
        the learning-rate decay, and returns the (D, G) optimizers (the first two; an entry may add more)."""
        d_opt, g_opt = self.optimizers()[:2]
        if (factor := self.lr_factor()) is not None:
            for opt, player in ((d_opt, "d"), (g_opt, "g")):
                for group in opt.param_groups:
                    group["lr"] = self.optimizer_settings(player)[0] * factor
        self._latent_rng.manual_seed(iteration_seed(self._seed, self.global_rank, self.iterations))
        return d_opt, g_opt

    def sample_fake_labels(self, n: int) -> Tensor | None:
        """Conditions of the fake batch: uniform labels, with the second half repeating the first when a
        mode-seeking penalty pairs the halves (MSGAN compares two latents under one condition)."""
        y = self.sample_labels(n)
        if y is not None and any(p.name == "mode_seeking" for p in self.penalties):
            half = (n + 1) // 2
            y = torch.cat([y[:half], y[: n - half]])
        return y

    def penalty_terms(
        self, player: str, step: int, real, y_real, fake, z, logs: dict, critic: Critic | None = None
    ) -> Tensor | float:
        """The sum of ``player``'s configured penalties due at ``step`` (their lazy schedules), logged by name.
        D's penalties differentiate ``critic`` (default: ``discriminate`` with the real labels)."""
        total = 0.0
        inputs = None
        for penalty in self.penalties:
            if penalty.player != player or not penalty.schedule.applies(step):
                continue
            if inputs is None:
                critic = critic or functools.partial(self.discriminate, y=y_real)
                inputs = PenaltyInputs(critic, real, fake, z, self.generator, self._latent_rng)
            with self.eager():
                term = penalty(inputs)
            logs[f"penalty/{penalty.name}"] = term
            total = total + term
        return total

    def eager(self) -> contextlib.AbstractContextManager:
        """A context in which compiled networks run eagerly (``compile``), for code that differentiates twice."""
        return torch.compiler.set_stance("force_eager") if self.hparams.compile else contextlib.nullcontext()

    def compile_networks(self) -> None:
        """``compile``: compiles G and D in place, so every call of either goes through torch.compile."""
        self.generator.compile()
        self.discriminator.compile()

    def after_discriminator_step(self) -> None:
        """Runs after every D update: WGAN's weight clipping. Entries with state updated per step extend it."""
        if self.hparams.weight_clip is not None:
            c = self.hparams.weight_clip
            with torch.no_grad():
                for p in self.discriminator.parameters():
                    p.clamp_(-c, c)

    def after_generator_step(self) -> None:
        """Runs after every G update; entries with state updated per step override it."""

    def _record_nonfinite(self, losses: list[Tensor]) -> None:
        """Remembers the first iteration with a NaN/Inf loss, on device (no host sync)."""
        bad = torch.stack([~torch.isfinite(loss.detach()) for loss in losses]).any()
        first = self.nonfinite_iteration
        first.copy_(torch.where(bad & (first < 0), self.iterations, first))

    # --------------------------------------------------------------------------- optimization

    def optimizer_steps(self, iteration: int, n: int) -> int:
        """The optimizer steps (what ``trainer.global_step`` and ``--trainer.max_steps`` count) of the ``n``
        iterations from ``iteration`` on: one D step each and one G step every ``d_steps``-th (``training_step``).
        The progress bar turns ``max_steps`` into iterations with it. An entry with its own training step gets the
        steps per iteration of its run so far (2 before its first iteration), unless it overrides this exactly."""
        if type(self).training_step is not GANModule.training_step:
            rate = self.trainer.global_step / self.iterations if self.iterations else 2.0
            return math.ceil(n * rate)
        d_steps = self.hparams.d_steps
        return n + (iteration + n) // d_steps - iteration // d_steps

    def configure_optimizers(self):
        optimizer = self.hparams.optimizer
        d_opt = make_optimizer(optimizer, self.discriminator.parameters(), *self.optimizer_settings("d"))
        g_opt = make_optimizer(optimizer, self.generator.parameters(), *self.optimizer_settings("g"))
        return [d_opt, g_opt]

    def optimizer_settings(self, player: str) -> tuple[float, tuple[float, float]]:
        """(learning rate, Adam betas) of ``player``'s ("d" or "g") optimizer before any lr decay: its
        hyperparameters. Entries that adjust them (StyleGAN2's lazy regularization) override this."""
        return self.hparams[f"{player}_lr"], tuple(self.hparams[f"{player}_betas"])

    def lr_factor(self) -> float | None:
        """Multiplier of the base learning rates at the current ``images_seen`` (``lr_decay_kimg``'s linear
        decay); None: no schedule. Entries with their own schedule override it."""
        if self.hparams.lr_decay_kimg is None:
            return None
        start, end = self.hparams.lr_decay_kimg
        return min(1.0, max(0.0, (end - self.images_seen / 1000) / (end - start)))

    def on_before_optimizer_step(self, optimizer) -> None:
        """Lightning calls it in every ``optimizer.step()`` of the LightningOptimizers (``self.optimizers()``),
        manual optimization included, after unscaling fp16 gradients."""
        if self.nan_to_num_gradients:
            self.sanitize_gradients(optimizer)
        if self.hparams.grad_clip_norm is not None:
            self.clip_gradients(
                optimizer, gradient_clip_val=self.hparams.grad_clip_norm, gradient_clip_algorithm="norm"
            )

    @staticmethod
    def sanitize_gradients(optimizer) -> None:
        """NaN gradients become 0, +-Inf +-1e5, in place, as StyleGAN2-ADA's training loop does before each step
        (NVlabs stylegan2-ada-pytorch training/training_loop.py: ``nan_to_num(nan=0, posinf=1e5, neginf=-1e5)``);
        on the device, no host sync. Losses are not touched: ``_record_nonfinite`` still sees a NaN loss."""
        for group in optimizer.param_groups:
            for param in group["params"]:
                if param.grad is not None:
                    torch.nan_to_num(param.grad, nan=0.0, posinf=1e5, neginf=-1e5, out=param.grad)

    def on_train_start(self) -> None:
        """Gives the optimizers this run's hyperparameters (learning rates, betas) and keeps their state: a resume
        restores the checkpoint's param_groups, which would silently undo a new ``--model.g_lr``."""
        for live, fresh in zip(self.optimizers(), self.configure_optimizers()):
            for group, new in zip(live.param_groups, fresh.param_groups):
                group.update({k: v for k, v in new.items() if k != "params"})

    def on_fit_start(self) -> None:
        if self.hparams.channels_last:
            self.to(memory_format=torch.channels_last)
        if self.hparams.compile:
            self.compile_networks()
        self._seed = run_seed(self.hparams.seed)
        self._latent_rng = torch.Generator(device=self.device)

    # ---------------------------------------------------------------------------- persistence

    def get_extra_state(self) -> dict:
        """Training progress stored inside ``state_dict`` (so checkpoints carry the schedule unit)."""
        return {"images_seen": self.images_seen, "iterations": self.iterations, "generator_steps": self.generator_steps}

    def set_extra_state(self, state: dict) -> None:
        self.images_seen = int(state["images_seen"])
        self.iterations = int(state["iterations"])
        self.generator_steps = int(state.get("generator_steps", 0))

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        from zoo import model_name
        from zoo.checkpoint_format import FORMAT_KEY

        checkpoint["zoo_model"] = model_name(type(self))
        checkpoint[FORMAT_KEY] = self.checkpoint_format

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        """The zoo's readers (``read_checkpoint``, which a resume's Trainer uses too) bring a checkpoint to the
        current format; one that reaches the model in an older format (Lightning's ``load_from_checkpoint`` reads
        the file itself) is refused instead of loaded with another meaning."""
        from zoo.checkpoint_format import stored_format

        found = stored_format(checkpoint, type(self))
        if found != self.checkpoint_format:
            raise ZooError(
                f"this checkpoint is in {type(self).__name__}'s format {found}, not the current "
                f"{self.checkpoint_format}: load it with callbacks.load_gan (or resume with --ckpt_path), which "
                "convert or refuse it"
            )

    @classmethod
    def unversioned_format(cls, checkpoint: dict) -> int:
        """The format of a checkpoint written before the zoo stored one: 1. An entry whose format was raised before
        then overrides this to tell the formats apart by content (a buffer's name, a hyperparameter)."""
        return 1

    @classmethod
    def migrate_checkpoint(cls, checkpoint: dict, old: int, source, generator_only: bool) -> str:
        """Converts ``checkpoint`` in place from format ``old`` to ``old + 1`` exactly and returns what was converted
        (a phrase for the log line; "" when this file needed no change, and nothing is said), or raises a ZooError
        naming what changed and the fix. ``generator_only``: the caller uses the generators alone
        (zoo/checkpoint_format.py ``upgrade``). Every entry that raises its ``checkpoint_format`` implements
        this."""
        raise NotImplementedError(f"{cls.__name__} has checkpoint format {cls.checkpoint_format} but no migration")


def split_batch(batch) -> tuple[Tensor, Tensor | None]:
    """(images, labels) from a datamodule batch that is either ``images`` or ``(images, labels)``."""
    if isinstance(batch, (list, tuple)):
        return batch[0], (batch[1] if len(batch) > 1 else None)
    return batch, None


@contextlib.contextmanager
def eval_mode(net: nn.Module):
    """Puts ``net`` in eval mode for the block and restores its previous mode afterwards."""
    was_training = net.training
    net.eval()
    try:
        yield net
    finally:
        net.train(was_training)

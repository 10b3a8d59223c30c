"""StyleGAN2 (Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN", arXiv 1912.04958) with
the configuration presets of StyleGAN2-ADA (Karras et al. 2020, "Training Generative Adversarial Networks with
Limited Data", arXiv 2006.06676, App. D, and its train.py)."""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, replace

import torch
from torch import Tensor, nn

from zoo.base import GANModule
from zoo.errors import ZooError
from zoo.nets.stylegan2 import Discriminator, Generator, mix_styles
from zoo.nn.modulated import NOISE_MODES
from zoo.penalties import PENALTIES, LazyPenalty, path_length_penalty

#: ``--model.schedule``: NVlabs' training phases (the default) or the zoo's shared loop (zoo/base.py)
SCHEDULES = ("nvlabs", "shared")


@dataclass(frozen=True)
class Preset:
    """One row of StyleGAN2-ADA's train.py table (cfg_specs), plus what its train.py changes for ``cifar``.

    Model knobs: fmaps (channel_base = fmaps * 32768), lrate (G and D), gamma (R1), mbstd (group size), map
    (mapping depth), pl_weight, style_mixing, d_residual. The rest belongs to other groups of a recipe:
    mb -> data.batch_size (summed over ref_gpus GPUs), kimg -> the training length, ema / ramp ->
    ema.half_life_kimg / ema.rampup.
    """

    ref_gpus: int
    kimg: int
    mb: int
    mbstd: int
    fmaps: float
    lrate: float
    gamma: float
    ema: float
    ramp: float | None
    map: int
    pl_weight: float = 2.0
    style_mixing: float = 0.9
    d_residual: bool = True


PRESETS = {
    "stylegan2": Preset(8, 25000, 32, 4, 1, 0.002, 10, 10, None, 8),  # config F of the StyleGAN2 paper
    "paper256": Preset(8, 25000, 64, 8, 0.5, 0.0025, 1, 20, None, 8),
    "paper512": Preset(8, 25000, 64, 8, 1, 0.0025, 0.5, 20, None, 8),
    "paper1024": Preset(8, 25000, 32, 4, 1, 0.002, 2, 10, None, 8),
    # no path length regularization, no style mixing, D without residual skips ("orig")
    "cifar": Preset(2, 100000, 64, 32, 1, 0.0025, 0.01, 500, 0.05, 2, pl_weight=0, style_mixing=0, d_residual=False),
}


def preset_spec(name: str, resolution: int, gpus: int = 1, **overrides) -> Preset:
    """The table row ``name``; ``auto`` derives it from the resolution and GPU count as ADA's train.py does:
    mb = max(min(gpus * min(4096 / res, 32), 64), gpus), mbstd = min(mb / gpus, 4), fmaps 1 at >= 512 px
    else 0.5, lrate 0.002 at >= 1024 px else 0.0025, gamma = 0.0002 res^2 / mb, ema = mb * 10 / 32 kimg.
    ``overrides`` that are not None replace the row's fields (the user's explicit arguments)."""
    spec = auto_preset(resolution, gpus) if name == "auto" else PRESETS.get(name)
    if spec is None:
        raise ZooError(f"unknown stylegan2 preset '{name}'; choose one of: auto, {', '.join(PRESETS)}")
    return replace(spec, **{key: value for key, value in overrides.items() if value is not None})


def auto_preset(resolution: int, gpus: int) -> Preset:
    """ADA's ``auto`` row (formulas in ``preset_spec``)."""
    if gpus < 1:
        raise ZooError(f"gpus must be >= 1 for the auto preset, got {gpus}")
    mb = max(min(gpus * min(4096 // resolution, 32), 64), gpus)
    return Preset(
        ref_gpus=gpus,
        kimg=25000,
        mb=mb,
        mbstd=min(mb // gpus, 4),
        fmaps=1 if resolution >= 512 else 0.5,
        lrate=0.002 if resolution >= 1024 else 0.0025,
        gamma=0.0002 * resolution**2 / mb,
        ema=mb * 10 / 32,
        ramp=0.05,
        map=2,
    )


class StyleGAN2(GANModule):
    """Karras 2020: a mapping network to styles w, a skip generator of modulated-demodulated convolutions (Sec. 2,
    Eq. 1-3) and a residual D (Sec. 4), without progressive growing; the logistic (non-saturating) loss, lazy
    R1 on D every 16 steps and path length regularization on G every 4 steps (Sec. 3.1-3.2, Eq. 4), style
    mixing (0.9), Adam betas (0, 0.99). ``preset`` picks StyleGAN2-ADA's hyperparameters; explicit arguments win.

    ``schedule="nvlabs"`` (default) trains as NVlabs' stylegan2-ada-pytorch does (training/training_loop.py and
    training/loss.py ``StyleGAN2Loss``): every iteration runs the phases Gmain (softplus(-D(G(z)))), Greg (path
    length on batch / pl_batch_shrink latents, times pl_interval, every pl_interval iterations), Dmain
    (softplus(D(G(z))) + softplus(-D(x))) and Dreg (the D penalties, R1 on the reals times its interval, every 16
    iterations), in this order, each with its own optimizer step and its own fresh latents and labels. The
    regularization phases are extra optimizer steps, so Adam is corrected as the reference does: lr * c and
    betas ** c with c = k / (k + 1) for interval k (``LazyPenalty.adam_correction``), also where the phase has
    nothing to do (cifar's pl_weight 0 keeps G's c = 4/5, as their train.py). An interval of 1 joins the penalty to
    the main phase without correction (their Gboth / Dboth). Every parameter of the phase's network gets a
    gradient, zero where the loss does not reach it (their ``gen_img[:, 0, 0, 0] * 0`` and ``real_logits * 0``
    terms), so Adam's state advances for all of them as in the reference. Fake labels are the labels of random
    images of the real batch: the dataset's label distribution, as the reference's labels of random training
    images (not uniform labels). ``--trainer.max_steps`` counts optimizer steps: 2 per iteration plus one per
    regularization phase (4, 2, 2, 2, 3, ... at intervals 4 and 16).

    ``schedule="shared"``: the zoo's shared loop (GANModule): one G forward per iteration, the D step and then the
    G step on those fakes, uniform fake labels, each lazy penalty joined to the ordinary step of its network
    scaled by its interval; k minibatches are k steps there, so no Adam correction.

    EMA of G (``ema.half_life_kimg`` with ``ema.rampup``) comes from the EMA callback in the recipes. Sampling:
    ``generator(z, y, truncation_psi=, truncation_cutoff=, noise_mode=)`` with ``w_avg`` updated by every
    training-mode mapping call (2.25 per iteration under the NVlabs schedule: Gmain, Dmain and every 4th Greg).
    """

    conditional = True
    truncation_space = "w"  # --truncation is psi

    @staticmethod
    def scaled_config(resolution: int, devices: int) -> dict[str, object]:
        """A paper preset scaled to data smaller than the recipe's: StyleGAN2-ADA's ``auto`` config (NVlabs
        stylegan2-ada-pytorch train.py, ``cfg_specs['auto']``, formulas in ``preset_spec``) at ``resolution`` on
        ``devices`` GPUs, with its batch (per device) and EMA half-life and ramp-up."""
        spec = auto_preset(resolution, devices)
        return {
            "model.preset": "auto",
            "model.gpus": devices,
            "data.batch_size": spec.mb // devices,
            "ema.half_life_kimg": spec.ema,
            "ema.rampup": spec.ramp,
        }

    def __init__(
        self,
        num_classes: int | None = None,
        use_labels: bool = True,
        resolution: int = 256,
        channels: int = 3,
        preset: str = "auto",
        gpus: int = 1,
        latent_dim: int = 512,
        w_dim: int = 512,
        mapping_layers: int | None = None,
        channel_base: int | None = None,
        channel_max: int = 512,
        mbstd_group: int | None = None,
        d_residual: bool | None = None,
        r1_gamma: float | None = None,
        style_mixing: float | None = None,
        pl_weight: float | None = None,
        pl_decay: float = 0.01,
        pl_batch_shrink: int = 2,
        pl_interval: int = 4,
        sample_noise_mode: str = "const",
        schedule: str = "nvlabs",
        objective: str = "non_saturating",
        penalties: list[dict] | None = None,
        g_lr: float | None = None,
        d_lr: float | None = None,
        g_betas: tuple[float, float] = (0.0, 0.99),
        d_betas: tuple[float, float] = (0.0, 0.99),
        num_fp16_res: int = 4,
        conv_clamp: float | None = 256,
        low_precision: str = "fp16",
        nan_to_num_gradients: bool = True,
        **kwargs,
    ):
        """
        Args:
            num_classes: classes of a labelled dataset, linked from the datamodule.
            use_labels: the conditional variant when the data has labels (ADA's --cond); False ignores them.
            resolution: image size, linked from the datamodule: a power of two >= 4.
            channels: image channels, linked from the datamodule.
            preset: auto, stylegan2 (config F), paper256, paper512, paper1024 or cifar (StyleGAN2-ADA's table).
            gpus: the GPU count ``auto`` derives its values from (ADA's --gpus).
            latent_dim: size of z (512).
            w_dim: size of w (512).
            mapping_layers: depth of G's mapping network (preset: 8, or 2 for auto and cifar); D's has 8.
            channel_base: widths are min(channel_base / res, channel_max) (preset: fmaps * 32768).
            channel_max: the widest layer (512).
            mbstd_group: minibatch stddev group size (preset).
            d_residual: residual D (True) or ADA's "orig" D without skips (preset: False for cifar).
            r1_gamma: R1's gamma (preset); the default penalty is [{name: r1, gamma: r1_gamma, interval: 16}].
            style_mixing: probability of mixing two ws at a random layer in training (preset: 0.9, cifar 0).
            pl_weight: path length regularization weight (preset: 2, cifar 0: off).
            pl_decay: the path length running mean's update rate (0.01).
            pl_batch_shrink: the path length batch is the batch divided by this (2).
            pl_interval: path length regularization every this many G steps, times this (4).
            sample_noise_mode: noise of eval-mode samples: const (reproducible, ADA's generate.py), random, none.
            schedule: nvlabs (the reference's phases with the lazy-regularization Adam correction) or shared (the
                zoo's one-forward loop); see the class docstring.
            penalties: D penalties (default: lazy R1, above); give r1_gamma or penalties, not both.
            g_lr: generator lr (preset lrate).
            d_lr: discriminator lr (preset lrate).
            num_fp16_res: G's and D's blocks of this many highest resolutions compute in ``low_precision``
                (StyleGAN2-ADA's train.py: 4; 0: all fp32, its --fp32). Not with --trainer.precision other than
                32-true where they are active: choose this or the trainer's whole-net autocast.
            conv_clamp: every conv output capped at +-conv_clamp (train.py: 256; null: none, its --fp32).
            low_precision: fp16 (NVlabs'; CUDA only, fp32 on a CPU) or bf16 (fp32's range: nothing overflows;
                Ampere or newer GPUs, and CPUs).
            nan_to_num_gradients: before every optimizer step, NaN gradients become 0 and +-Inf +-1e5, as
                NVlabs' training loop does (losses that are not finite still stop the run: callbacks/health.py).
        """
        spec = preset_spec(
            preset, resolution, gpus, map=mapping_layers, fmaps=None if channel_base is None else channel_base / 32768,
            mbstd=mbstd_group, d_residual=d_residual, gamma=r1_gamma, style_mixing=style_mixing, pl_weight=pl_weight,
        )  # fmt: skip
        if r1_gamma is not None and penalties is not None:
            raise ZooError("give --model.r1_gamma or --model.penalties, not both (r1_gamma sets the default R1)")
        if sample_noise_mode not in NOISE_MODES:
            raise ZooError(f"sample_noise_mode must be one of {', '.join(NOISE_MODES)}, got '{sample_noise_mode}'")
        if pl_batch_shrink < 1:
            raise ZooError(f"pl_batch_shrink must be >= 1, got {pl_batch_shrink}")
        if schedule not in SCHEDULES:
            raise ZooError(f"schedule must be one of {', '.join(SCHEDULES)}, got '{schedule}'")
        super().__init__(
            num_classes=num_classes if use_labels else None,
            latent_dim=latent_dim,
            objective=objective,
            penalties=[{"name": "r1", "gamma": spec.gamma, "interval": 16}] if penalties is None else penalties,
            g_lr=g_lr,
            d_lr=d_lr,
            g_betas=g_betas,
            d_betas=d_betas,
            **kwargs,
        )
        self.nan_to_num_gradients = nan_to_num_gradients
        # the optimizers read the learning rates from hparams: the preset's lrate where none was given
        self.hparams.update({key: spec.lrate for key in ("g_lr", "d_lr") if self.hparams[key] is None})
        self.spec = spec
        self.path_length_schedule = LazyPenalty(pl_interval)
        self.d_regularization = d_regularization_schedule(self.penalties, schedule)
        self.register_buffer("pl_mean", torch.zeros(()))
        channel_base = int(spec.fmaps * 32768)
        precision = {"num_fp16_res": num_fp16_res, "conv_clamp": conv_clamp, "low_precision": low_precision}
        self.generator = Generator(
            latent_dim, w_dim, resolution, channels, channel_base, channel_max, spec.map, self.num_classes, **precision
        )
        self.discriminator = Discriminator(  # D's class mapping keeps 8 layers: ADA's ``map`` is G's only
            resolution, channels, channel_base, channel_max, spec.mbstd, self.num_classes, residual=spec.d_residual,
            **precision,
        )  # fmt: skip

    def setup(self, stage: str) -> None:
        """Refuses low-precision blocks under a trainer precision other than 32-true: autocast would override
        their dtype (bf16-mixed, 16-mixed) or the parameters would be half already (bf16-true, 16-true)."""
        h = self.hparams
        device = self.trainer.strategy.root_device.type
        active = h.num_fp16_res > 0 and (h.low_precision == "bf16" or device == "cuda")
        if active and not str(self.trainer.precision).startswith("32"):
            raise ZooError(
                f"--trainer.precision {self.trainer.precision} sets the precision of the whole net, and "
                f"--model.num_fp16_res {h.num_fp16_res} runs the top resolutions in {h.low_precision} on their own: "
                "choose one, --model.num_fp16_res 0 for the trainer's, or --trainer.precision 32-true for "
                "StyleGAN2-ADA's per-block scheme"
            )

    # ------------------------------------------------------------------------------------ generation

    def styles(self, net: nn.Module, z: Tensor, y: Tensor | None) -> Tensor:
        """Training ws with style mixing (``mix_styles``) from the training noise stream."""
        return mix_styles(net.mapping, z, y, self.spec.style_mixing, self._latent_rng)

    def generate(self, net: nn.Module, z: Tensor, y: Tensor | None, truncation: float | None = None) -> Tensor:
        """Training: style mixing and noise from the training stream. Eval mode: ``sample_noise_mode`` noise."""
        if not net.training:
            psi = 1.0 if truncation is None else truncation
            return net(z, y, truncation_psi=psi, noise_mode=self.hparams.sample_noise_mode)
        return net.synthesis(self.styles(net, z, y), rng=self._latent_rng)

    # ------------------------------------------------------------------------------ the game

    def generator_loss(self, fake: Tensor, y_fake: Tensor | None, real: Tensor, y_real: Tensor | None):
        """The logistic loss; in the shared schedule plus path length regularization every ``pl_interval`` G steps
        on fresh latents, times it (the NVlabs schedule runs it in its Greg phase)."""
        loss, logs = super().generator_loss(fake, y_fake, real, y_real)
        if self.hparams.schedule == "shared" and self.regularizes_paths(self.generator_steps):
            n = max(fake.shape[0] // self.hparams.pl_batch_shrink, 1)
            loss = loss + self.path_length_loss(self.sample_latent(n), None if y_fake is None else y_fake[:n], logs)
        return loss, logs

    def regularizes_paths(self, step: int) -> bool:
        return self.spec.pl_weight > 0 and self.path_length_schedule.applies(step)

    def path_length_loss(self, z: Tensor, y: Tensor | None, logs: dict) -> Tensor:
        """Eq. 4 at the styles of ``z`` (labels ``y``) times ``pl_interval``; updates the running mean ``pl_mean``."""
        with self.eager():
            ws = self.styles(self.generator, z, y)
            images = self.generator.synthesis(ws, rng=self._latent_rng)
            term, mean = path_length_penalty(
                images, ws, self.pl_mean, self.spec.pl_weight, self.hparams.pl_decay, generator=self._latent_rng
            )
        self.pl_mean.copy_(mean)
        term = self.path_length_schedule.factor * term
        logs.update({"penalty/path_length": term, "pl_mean": mean})
        return term

    # ------------------------------------------------------------------ NVlabs' phases (schedule="nvlabs")

    def training_step(self, batch, batch_idx: int) -> None:
        """The NVlabs schedule's iteration (class docstring); the shared loop's under ``schedule="shared"``."""
        if self.hparams.schedule == "shared":
            return super().training_step(batch, batch_idx)
        real, y_real = self.real_batch(batch)
        d_opt, g_opt = self.start_iteration()
        losses, logs = [], {}
        for phase in self.due_phases(self.iterations):
            network, opt = (self.generator, g_opt) if phase[0] == "G" else (self.discriminator, d_opt)
            z, y_fake = self.generator_inputs(real, y_real)
            with self.toggled_optimizer(opt):
                loss = self.phase_loss(phase, real, y_real, z, y_fake, logs)
                opt.zero_grad(set_to_none=True)
                self.manual_backward(loss)
                zero_missing_gradients(network)
                opt.step()
            (self.after_generator_step if phase[0] == "G" else self.after_discriminator_step)()
            losses.append(loss)
        self.generator_steps += 1
        self.finish_iteration(real.shape[0], losses, logs)

    def due_phases(self, iteration: int) -> list[str]:
        """NVlabs' phases of ``iteration`` (from 0), in their order: per network its main phase and, every
        interval-th iteration, its regularization phase; "Gboth" / "Dboth" where the interval is 1 (or D has no
        penalty). Greg is left out when pl_weight is 0: the reference's phase computes nothing then."""
        phases = []
        for player, schedule in (("G", self.path_length_schedule), ("D", self.d_regularization)):
            if schedule is None or schedule.interval == 1:
                phases.append(f"{player}both")
                continue
            phases.append(f"{player}main")
            if schedule.applies(iteration) and (player == "D" or self.spec.pl_weight > 0):
                phases.append(f"{player}reg")
        return phases

    def optimizer_steps(self, iteration: int, n: int) -> int:
        """One step per phase of ``due_phases`` over the ``n`` iterations from ``iteration`` on: a main (or both)
        phase per network and iteration, and a regularization phase every interval-th iteration."""
        if self.hparams.schedule == "shared":
            return super().optimizer_steps(iteration, n)
        steps = 0
        for player, schedule in (("G", self.path_length_schedule), ("D", self.d_regularization)):
            steps += n
            if schedule is not None and schedule.interval > 1 and (player == "D" or self.spec.pl_weight > 0):
                k = schedule.interval  # iterations i with i % k == 0 in [iteration, iteration + n)
                steps += -(-(iteration + n) // k) - -(-iteration // k)
        return steps

    def phase_loss(self, phase: str, real: Tensor, y_real, z: Tensor, y_fake, logs: dict) -> Tensor:
        """The loss one phase backpropagates (NVlabs' ``StyleGAN2Loss.accumulate_gradients`` with gain = interval
        for regularization), from its own latents ``z`` and labels ``y_fake``; its values are added to ``logs``."""
        main, regularize = phase.endswith(("main", "both")), phase.endswith(("reg", "both"))
        loss = real.new_zeros(())
        if phase[0] == "G":
            if main:
                fake = self.generate(self.generator, z, y_fake)
                loss, g_logs = self.generator_loss(fake, y_fake, real, y_real)
                loss = loss + self.penalty_terms("g", self.generator_steps, real, y_real, fake, z, g_logs)
                logs.update(g_logs)
            if regularize and self.regularizes_paths(self.iterations):
                n = max(z.shape[0] // self.hparams.pl_batch_shrink, 1)
                loss = loss + self.path_length_loss(z[:n], None if y_fake is None else y_fake[:n], logs)
            return loss
        if main:
            with torch.no_grad():
                fake = self.generate(self.generator, z, y_fake)
            loss, d_logs = self.discriminator_loss(real, y_real, fake, y_fake)
            logs.update(d_logs)
        if regularize:
            # a Dreg phase's real logits also feed ADA's r_t, as the reference's R1 pass reports their signs
            critic = None if main else functools.partial(self.observed_critic, y=y_real)
            loss = loss + self.penalty_terms("d", self.iterations, real, y_real, None, z, logs, critic)
        return loss

    def observed_critic(self, x: Tensor, y: Tensor | None) -> Tensor:
        """``discriminate`` whose outputs, D's on real images, are added to ADA's r_t (``observe_real_logits``)."""
        logits = self.discriminate(x, y)
        self.observe_real_logits(logits)
        return logits

    def generator_inputs(self, real: Tensor, y_real: Tensor | None) -> tuple[Tensor, Tensor | None]:
        """Fresh latents; under the NVlabs schedule the labels of random images of the real batch (the dataset's
        label distribution, as the reference's ``training_set.get_label(np.random.randint(len(training_set)))``)."""
        if self.hparams.schedule == "shared" or y_real is None:
            return super().generator_inputs(real, y_real)
        n, rng = real.shape[0], self._latent_rng
        picks = torch.randint(n, (n,), generator=rng, device=rng.device).to(y_real.device)
        return self.sample_latent(n), y_real[picks]

    def optimizer_settings(self, player: str) -> tuple[float, tuple[float, float]]:
        """Under the NVlabs schedule, lr * c and betas ** c, c = k / (k + 1) for a regularization interval k > 1
        (NVlabs' training_loop.py: the regularization phase's extra optimizer step)."""
        lr, betas = super().optimizer_settings(player)
        schedule = self.path_length_schedule if player == "g" else self.d_regularization
        if self.hparams.schedule == "shared" or schedule is None:
            return lr, betas
        c = schedule.adam_correction
        return lr * c, tuple(beta**c for beta in betas)


def d_regularization_schedule(penalties: list, schedule: str) -> LazyPenalty | None:
    """The lazy schedule of D's penalties (None: D has none). The NVlabs schedule runs them in one Dreg phase on
    the reals, so it needs one interval for all and penalties of the reals only (R1, drift)."""
    d_penalties = [p for p in penalties if p.player == "d"]
    if not d_penalties:
        return None
    if schedule == "nvlabs":
        intervals = sorted({p.schedule.interval for p in d_penalties})
        if len(intervals) > 1:
            raise ZooError(
                f"the nvlabs schedule runs D's penalties in one phase: give them one interval, got {intervals}"
            )
        if needs := [p.name for p in d_penalties if "fake" in inspect.signature(PENALTIES[p.name][1]).parameters]:
            raise ZooError(
                f"the nvlabs schedule's Dreg phase sees real images only; penalty {', '.join(needs)} needs fakes: "
                "use --model.schedule shared"
            )
    return d_penalties[0].schedule


def zero_missing_gradients(network: nn.Module) -> None:
    """A zero gradient for every trainable parameter the loss did not reach, so Adam advances its state for all of
    them as in NVlabs' phases (their ``gen_img[:, 0, 0, 0] * 0`` and ``real_logits * 0`` terms)."""
    for param in network.parameters():
        if param.requires_grad and param.grad is None:
            param.grad = torch.zeros_like(param)

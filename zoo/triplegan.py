"""Triple-GAN (Li, Xu, Zhu and Zhang 2017, "Triple Generative Adversarial Nets", NIPS, arXiv 1703.02291), as the
authors' semi-supervised MNIST script builds it (zhenxuan00/triple-gan x2y_yz2x_xy2p_ssl_mnist.py, with
components/objectives.py)."""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from datamodules.base import to_unit_range
from zoo.base import GANModule, eval_mode, make_optimizer
from zoo.errors import ZooError
from zoo.nets.triplegan import BN_EPS, TripleGANClassifier, TripleGANDiscriminator, TripleGANGenerator
from zoo.seeding import iteration_seed

REAL_PAIRS = ("labelled_and_pseudo", "labelled")
PROBABILITY_CLIP = 1e-6  # objectives.py categorical_crossentropy clips probabilities to [1e-6, 1 - 1e-6]


# ----------------------------------------------------------------------------------------------- the losses


def cross_entropy(probs: Tensor, targets: Tensor) -> Tensor:
    """The reference's categorical cross-entropy: -sum_k t_k log clip(p_k, 1e-6, 1 - 1e-6), averaged over the
    batch; ``targets`` are class indices or distributions (objectives.py categorical_crossentropy)."""
    if targets.dim() == 1:
        targets = F.one_hot(targets, probs.shape[1]).to(probs.dtype)
    return -(targets * probs.clamp(PROBABILITY_CLIP, 1 - PROBABILITY_CLIP).log()).sum(1).mean()


def classification_loss(
    probs_labelled: Tensor,
    labels: Tensor,
    probs_unlabelled: Tensor,
    last_weight: Tensor,
    entropy_weight: float,
    balance_weight: float,
    weight_decay: float,
) -> dict[str, Tensor]:
    """C's own loss, the script's categorical_crossentropy_ssl_separated: the cross-entropy on labelled data R_L
    (Sec. 3.2), plus ``entropy_weight`` times the mean entropy of C's predictions on unlabelled data, plus
    ``balance_weight`` times the cross-entropy of their batch mean against the uniform distribution, plus
    ``weight_decay`` times the sum of squares of the last layer's weights (lasagne's l2). Returns the terms, weighted,
    and their ``total``."""
    uniform = torch.full_like(probs_unlabelled[:1], 1 / probs_unlabelled.shape[1])
    terms = {
        "supervised": cross_entropy(probs_labelled, labels),
        "entropy": entropy_weight * cross_entropy(probs_unlabelled, probs_unlabelled),
        "balance": balance_weight * cross_entropy(probs_unlabelled.mean(0, keepdim=True), uniform),
        "weight_decay": weight_decay * last_weight.square().sum(),
    }
    return {**terms, "total": sum(terms.values())}


def binary_cross_entropy(logits: Tensor, target: float) -> Tensor:
    """Per-sample -log D for target 1 and -log(1 - D) for target 0, D = sigmoid(logits) (lasagne's
    binary_crossentropy on the sigmoid output, computed from the logit)."""
    return F.softplus(-logits) if target == 1 else F.softplus(logits)


def discriminator_loss(real: Tensor, generated: Tensor, classified: Tensor, alpha: float) -> Tensor:
    """D's loss, the negated utility U(C, G, D) of Sec. 3.1: -E_p[log D(x, y)] - alpha E_pc[log(1 - D(x, C(x)))]
    - (1 - alpha) E_pg[log(1 - D(G(z, y), y))], from D's logits on real, generated and classifier-labelled pairs."""
    return (
        binary_cross_entropy(real, 1).mean()
        + (1 - alpha) * binary_cross_entropy(generated, 0).mean()
        + alpha * binary_cross_entropy(classified, 0).mean()
    )


def generator_loss(generated: Tensor, alpha: float) -> Tensor:
    """G's loss: (1 - alpha) E_pg[-log D(G(z, y), y)], the non-saturating form the script uses (gen_cost)."""
    return (1 - alpha) * binary_cross_entropy(generated, 1).mean()


def classifier_adversarial_loss(classified: Tensor, confidence: Tensor, alpha: float) -> Tensor:
    """C's adversarial term with the script's argmax approximation: alpha mean_x[p_c(y_hat | x) (-log D(x,
    y_hat))] with y_hat = argmax_y p_c(y | x). The gradient reaches C through its confidence p_c(y_hat | x) alone (the
    label is discrete), the score-function form of Sec. 3.2's gradient of E_pc[log(1 - D)]; the script trains C
    towards D's "real" target, as G."""
    return alpha * (confidence * binary_cross_entropy(classified, 1)).mean()


@torch.no_grad()
def update_average(average: nn.Module, net: nn.Module, rate: float) -> None:
    """a <- a + rate (p - a) for every floating parameter and buffer (BN's running mean and inverse std included),
    the script's cla_avg_updates over lasagne's get_all_params (which lists the BN statistics too)."""
    pairs = [
        (a, p)
        for a, p in zip([*average.parameters(), *average.buffers()], [*net.parameters(), *net.buffers()], strict=True)
        if a.is_floating_point()
    ]
    torch._foreach_lerp_([a for a, _ in pairs], [p.detach() for _, p in pairs], rate)


@torch.no_grad()
def classifier_error(net: nn.Module, images: Tensor, labels: Tensor, batch_size: int = 1000) -> Tensor:
    """The test error of ``net`` (in eval mode: BN's running statistics, no dropout) on uint8 or [-1, 1] images."""
    device = next(net.parameters()).device
    wrong = torch.zeros((), device=device)
    with eval_mode(net):
        for start in range(0, len(images), batch_size):
            x = to_unit_range(images[start : start + batch_size].to(device))
            wrong += (net(x).argmax(1) != labels[start : start + batch_size].to(device)).sum()
    return wrong / len(images)


# ------------------------------------------------------------------------------------------------ the entry


class TripleGAN(GANModule):
    """Li 2017: three players. C, p_c(y | x), labels images; G, p_g(x | y), draws images of a class; D tells
    pairs (x, y) of the data from pairs of p_c (weight alpha) and p_g (1 - alpha) (Sec. 3.1, alpha = 1/2).
    Semi-supervised: the data is a few labelled and many unlabelled images (``--data.labelled 100``,
    datamodules/semi_supervised.py), and C is the model that is evaluated: the test error of an exponential moving
    average of its weights (the script's cla_param_avg: a <- a + 0.01 (p - a) after every C update, starting from
    zeros as it does, without bias correction; BN statistics included: lasagne's running mean and inverse std,
    zoo/nets/triplegan.py ``LasagneBatchNorm``, so a few hundred C updates are needed before the zeros have
    decayed, 0.99^460 < 1%), logged as ``triplegan/test_error`` at every epoch's end when the
    datamodule has a test split (``evaluation_split``).

    One iteration, as the script's loop: a D update, a G update, a C update, each on fresh draws of C's dropout,
    D's noise and z ~ U(0, 1) (``theano_rng.uniform``); G's batch is ``generated_batch`` images with the classes in
    equal numbers (200: 20 each). The batch's unlabelled images are split: the first ``classifier_unlabelled``
    (100) go to C and form D's classifier-labelled pairs (x, argmax C(x)); the others (400) join D's real pairs with
    C's argmax labels, beside ``discriminator_labelled`` (1) labelled pair per iteration, as the released script does
    (``real_pairs: labelled``: the labelled pair alone, Sec. 3.1's p(x, y)).

    - D: ``discriminator_loss`` (U(C, G, D) negated, with BCE);
    - G: ``generator_loss``, (1 - alpha) -log D;
    - C: ``classifier_adversarial_loss`` (confidence-weighted) + ``classification_loss`` (cross-entropy R_L on the
      labelled batch, 0.3 x entropy and 1e-3 x balance on the unlabelled batch, 1e-4 x L2 on the last layer) + from
      ``pseudo_label_kimg`` on, 0.1 x the pseudo-discriminative loss R_P = CE(C(G(z, y)), y) (Sec. 3.2).

    Before the game, C is pretrained alone for ``pretrain_kimg`` (the script: 30 epochs when n <= 100 labels) on
    ``classification_loss`` with entropy and balance weights 0.3 and its own Adam (3e-4, betas 0.9, 0.999), the
    average updated as well. The game's Adam is lr 1e-3, beta1 0.5 for all three players; from
    ``lr_decay_start_kimg`` the rate is multiplied by 0.995 every ``lr_decay_every_kimg`` (the script: x 0.995 after
    each epoch from epoch 300).

    Units: ``images_seen`` counts the batch's unlabelled images (C's 100 + D's 400 = 500 per iteration with the
    recipe's ``--data.batch_size 500``); one of the script's epochs is 600 iterations = 300 kimg, one pretraining
    epoch 120 iterations = 60 kimg, so its schedule is: pretraining to 1,800 kimg, R_P from epoch 300 (91,500 kimg),
    decay from the end of epoch 300 (91,800 kimg), 1,000 epochs (301,800 kimg; configs/triplegan/mnist.yaml).
    ``--trainer.max_steps`` counts optimizer steps: 1 per pretraining iteration, 3 per game iteration (1 with
    ``classifier_only``).

    Networks (zoo/nets/triplegan.py): the script's MNIST nets, G 713,408 / D 1,564,011 / C 279,402 parameters at
    28 px (widths ``g_hidden``, ``d_hidden``, ``c_widths``). ``classifier_only``: the baseline, C trained on its
    classification loss alone (pretraining, batches, Adam, average and evaluation unchanged; D and G never step).

    Differences from the script: the script builds separate Adam states for C's loss before and after R_P starts
    (its moments restart at epoch 300; here one Adam continues); its D draws its 400 unlabelled images from a second
    permutation (here the rest of the same batch, disjoint from C's 100).
    """

    conditional = True
    default_data = "mnist"
    resume_overridable = GANModule.resume_overridable | {
        "c_lr", "c_betas", "pretrain_lr", "pretrain_betas", "lr_decay_start_kimg", "lr_decay_every_kimg",
        "lr_decay_factor", "pseudo_label_kimg", "pseudo_label_weight", "entropy_weight", "balance_weight",
        "weight_decay", "pretrain_entropy_weight", "pretrain_balance_weight",
    }  # fmt: skip

    def __init__(
        self,
        resolution: int = 28,
        channels: int = 1,
        num_classes: int | None = 10,
        latent_dim: int = 100,
        alpha: float = 0.5,
        real_pairs: str = "labelled_and_pseudo",
        g_hidden: int = 500,
        d_hidden: tuple[int, ...] = (1000, 500, 250, 250, 250),
        c_widths: tuple[int, ...] = (32, 64, 64, 128, 128),
        d_input_noise: float = 0.3,
        d_hidden_noise: float = 0.5,
        generated_batch: int = 200,
        classifier_unlabelled: int = 100,
        discriminator_labelled: int = 1,
        entropy_weight: float = 0.3,
        balance_weight: float = 1e-3,
        weight_decay: float = 1e-4,
        pseudo_label_weight: float = 0.1,
        pseudo_label_kimg: float = 91_500,
        pretrain_kimg: float = 1_800,
        pretrain_lr: float = 3e-4,
        pretrain_betas: tuple[float, float] = (0.9, 0.999),
        pretrain_entropy_weight: float = 0.3,
        pretrain_balance_weight: float = 0.3,
        g_lr: float = 1e-3,
        d_lr: float = 1e-3,
        c_lr: float = 1e-3,
        c_betas: tuple[float, float] = (0.5, 0.999),
        lr_decay_start_kimg: float | None = 91_800,
        lr_decay_every_kimg: float = 300,
        lr_decay_factor: float = 0.995,
        average_rate: float = 0.01,
        classifier_only: bool = False,
        objective: str | None = None,
        **kwargs,
    ):
        """
        Args:
            resolution: image size, linked from the datamodule (>= 16 for C's convolutions; 28 in the paper).
            channels: image channels, linked from the datamodule.
            num_classes: classes, linked from the datamodule.
            latent_dim: dims of z ~ U(0, 1) (100).
            alpha: the paper's alpha: weight of p_c's pairs in D's and C's terms, 1 - alpha of p_g's in D's and G's
                (Sec. 3.1; 1/2).
            real_pairs: D's real pairs: labelled_and_pseudo (the script: the labelled pairs and D's unlabelled
                images with C's argmax labels) or labelled (the labelled pairs alone, Sec. 3.1).
            g_hidden: units of G's two hidden layers (500).
            d_hidden: units of D's hidden layers (1000, 500, 250, 250, 250).
            c_widths: channels of C's five conv layers (32, 64, 64, 128, 128).
            d_input_noise: std of the Gaussian noise on D's input pixels in [0, 1] (0.3).
            d_hidden_noise: std of the Gaussian noise on D's hidden layers (0.5).
            generated_batch: images G draws per update, the classes in equal numbers (200).
            classifier_unlabelled: unlabelled images of each batch that C trains on (100); the rest go to D.
            discriminator_labelled: labelled pairs among D's real pairs per iteration (max(n / 100, 1) = 1).
            entropy_weight: weight of the entropy of C's predictions on unlabelled data (0.3).
            balance_weight: weight of the cross-entropy of their batch mean against uniform (1e-3).
            weight_decay: weight of the L2 of C's last layer (1e-4).
            pseudo_label_weight: weight of R_P, C's cross-entropy on G's pairs (0.1).
            pseudo_label_kimg: R_P is on from this many thousand unlabelled images (epoch 300 of the script).
            pretrain_kimg: C trains alone for this many thousand unlabelled images first (30 epochs; 0: none).
            pretrain_lr: Adam learning rate of C's pretraining (3e-4).
            pretrain_betas: Adam betas of C's pretraining (0.9, 0.999).
            pretrain_entropy_weight: entropy weight during pretraining (0.3).
            pretrain_balance_weight: balance weight during pretraining (0.3).
            g_lr: G's learning rate (1e-3).
            d_lr: D's learning rate (1e-3).
            c_lr: C's learning rate in the game (1e-3).
            c_betas: C's Adam betas in the game (0.5, 0.999).
            lr_decay_start_kimg: the game's rates are multiplied by ``lr_decay_factor`` here and every
                ``lr_decay_every_kimg`` after (None: constant).
            lr_decay_every_kimg: the decay's period (one epoch of the script, 300 kimg).
            lr_decay_factor: the decay per period (0.995).
            average_rate: rate of C's weight average, a <- a + rate (p - a) (0.01).
            classifier_only: the baseline: C alone on its classification loss (class docstring).
            objective: must stay null: the three players' losses are the script's (``discriminator_loss``, ...).
        """
        if num_classes is None:
            raise ZooError("triplegan needs labelled data: --data mnist (or digits) with --data.labelled N")
        if real_pairs not in REAL_PAIRS:
            raise ZooError(f"unknown real_pairs '{real_pairs}'; choose one of: {', '.join(REAL_PAIRS)}")
        if generated_batch < num_classes or generated_batch % num_classes:
            raise ZooError(f"generated_batch must be a multiple of the {num_classes} classes, got {generated_batch}")
        if not 0 <= alpha <= 1:
            raise ZooError(f"alpha must be in [0, 1], got {alpha}")
        if resolution < 16:
            raise ZooError(f"triplegan's classifier needs images of >= 16 px; set --data.resolution, got {resolution}")
        if (
            objective is not None
            or kwargs.get("penalties")
            or kwargs.get("d_steps", 1) != 1
            or kwargs.get("augment", "none") != "none"
        ):
            raise ZooError(
                "triplegan plays the script's three-player game (one D, G and C update per iteration, D called on "
                "its own pairs): --model.objective, --model.penalties, --model.d_steps and --model.augment do not "
                "apply to it"
            )
        super().__init__(latent_dim=latent_dim, num_classes=num_classes, g_lr=g_lr, d_lr=d_lr, objective=None, **kwargs)
        self.generator = TripleGANGenerator(latent_dim, num_classes, resolution, channels, g_hidden)
        self.discriminator = TripleGANDiscriminator(
            resolution, channels, num_classes, d_hidden, d_input_noise, d_hidden_noise
        )
        self.classifier = TripleGANClassifier(channels, num_classes, c_widths)
        self.classifier_average = copy.deepcopy(self.classifier).requires_grad_(False)
        with torch.no_grad():
            for t in [*self.classifier_average.parameters(), *self.classifier_average.buffers()]:
                t.zero_()
        self.classifier_steps = 0
        self._evaluation: tuple[Tensor, Tensor] | None = None

    # ------------------------------------------------------------------------------------------ contract

    def sample_latent(
        self, n: int, generator: torch.Generator | None = None, truncation: float | None = None
    ) -> Tensor:
        """z ~ U(0, 1)^latent_dim, as the script's ``theano_rng.uniform``; no truncation."""
        if truncation is not None:
            raise ZooError("triplegan draws z from U(0, 1): truncation does not apply to it")
        rng = generator if generator is not None else self._latent_rng
        device = rng.device if rng is not None else self.device
        return torch.rand(n, self.latent_dim, generator=rng, device=device).to(self.device)

    def balanced_labels(self) -> Tensor:
        """G's labels: every class ``generated_batch / num_classes`` times (the script's np.repeat)."""
        per_class = self.hparams.generated_batch // self.num_classes
        return torch.arange(self.num_classes, device=self.device).repeat_interleave(per_class)

    @property
    def pretraining(self) -> bool:
        return self.images_seen < round(self.hparams.pretrain_kimg * 1000)

    @property
    def pseudo_labelling(self) -> bool:
        return self.images_seen >= round(self.hparams.pseudo_label_kimg * 1000)

    # ---------------------------------------------------------------------------------------- the game

    def training_step(self, batch, batch_idx: int) -> None:
        if not (isinstance(batch, (list, tuple)) and len(batch) == 3 and isinstance(batch[2], int)):
            raise ZooError(
                "triplegan is semi-supervised: give it labelled and unlabelled batches with --data.labelled N "
                "(e.g. --data mnist --data.labelled 100)"
            )
        images, labels, n_labelled = batch
        x_l, y_l, x_u = images[:n_labelled], labels[:n_labelled], images[n_labelled:]
        d_opt, g_opt, c_opt, pretrain_opt = self.optimizers()
        self.start_iteration()
        if (factor := self.lr_factor()) is not None:
            for group in c_opt.param_groups:
                group["lr"] = self.hparams.c_lr * factor
        # C's dropout and D's noise come from the global stream: reseeded per iteration, so a resume redraws them
        torch.manual_seed(iteration_seed(self._seed + 1, self.global_rank, self.iterations))
        if self.pretraining:
            losses, logs = self.pretrain_step(pretrain_opt, x_l, y_l, x_u)
        else:
            losses, logs = self.game_step(d_opt, g_opt, c_opt, x_l, y_l, x_u)
        update_average(self.classifier_average, self.classifier, self.hparams.average_rate)
        self.classifier_steps += 1
        self.finish_iteration(x_u.shape[0], losses, logs)

    def classification_terms(self, x_l, y_l, probs_unlabelled, entropy_weight, balance_weight) -> dict[str, Tensor]:
        probs_labelled = F.softmax(self.classifier(x_l).float(), dim=1)
        h = self.hparams
        return classification_loss(
            probs_labelled, y_l, probs_unlabelled, self.classifier.classify.weight, entropy_weight, balance_weight,
            h.weight_decay,
        )  # fmt: skip

    def pretrain_step(self, opt, x_l, y_l, x_u):
        """C alone on its classification loss with the pretraining weights (the script's pretrain_batch_cla: every
        unlabelled image of the batch, 500)."""
        h = self.hparams
        with self.toggled_optimizer(opt):
            probs_u = F.softmax(self.classifier(x_u).float(), dim=1)
            terms = self.classification_terms(x_l, y_l, probs_u, h.pretrain_entropy_weight, h.pretrain_balance_weight)
            opt.zero_grad(set_to_none=True)
            self.manual_backward(terms["total"])
            opt.step()
        logs = {f"classifier/{k}": v for k, v in terms.items() if k != "total"}
        return [terms["total"]], {"loss/c": terms["total"], **logs}

    def game_step(self, d_opt, g_opt, c_opt, x_l, y_l, x_u):
        """One D, one G and one C update (class docstring)."""
        h = self.hparams
        cu = h.classifier_unlabelled
        if x_u.shape[0] <= cu:
            raise ZooError(
                f"triplegan gives the first {cu} unlabelled images of a batch to C and the rest to D: "
                f"--data.batch_size must be > {cu} (the script: 500), or lower --model.classifier_unlabelled"
            )
        x_uc, x_ud = x_u[:cu], x_u[cu:]
        at = (self.iterations * h.discriminator_labelled + torch.arange(h.discriminator_labelled)) % x_l.shape[0]
        x_dl, y_dl = x_l[at.to(x_l.device)], y_l[at.to(y_l.device)]
        y_g = self.balanced_labels()
        logs: dict[str, Tensor] = {}
        losses = []
        if not h.classifier_only:
            with torch.no_grad():
                fake = self.generator(self.sample_latent(len(y_g)), y_g)
                y_uc = self.classifier(x_uc).argmax(1)
                if h.real_pairs == "labelled_and_pseudo":
                    x_dl, y_dl = torch.cat([x_dl, x_ud]), torch.cat([y_dl, self.classifier(x_ud).argmax(1)])
            with self.toggled_optimizer(d_opt):
                real, generated = self.discriminator(x_dl, y_dl), self.discriminator(fake, y_g)
                classified = self.discriminator(x_uc, y_uc)
                d_loss = discriminator_loss(real, generated, classified, h.alpha)
                d_opt.zero_grad(set_to_none=True)
                self.manual_backward(d_loss)
                d_opt.step()
            with self.toggled_optimizer(g_opt):
                fake = self.generator(self.sample_latent(len(y_g)), y_g)
                g_loss = generator_loss(self.discriminator(fake, y_g), h.alpha)
                g_opt.zero_grad(set_to_none=True)
                self.manual_backward(g_loss)
                g_opt.step()
            self.generator_steps += 1
            losses += [d_loss, g_loss]
            logs.update({"loss/d": d_loss, "loss/g": g_loss, "d/real": real.mean(), "d/generated": generated.mean()})
            logs["d/classified"] = classified.mean()
        with self.toggled_optimizer(c_opt):
            probs_u = F.softmax(self.classifier(x_uc).float(), dim=1)
            terms = self.classification_terms(x_l, y_l, probs_u, h.entropy_weight, h.balance_weight)
            c_loss = terms["total"]
            if not h.classifier_only:
                confidence, y_hat = probs_u.max(1)
                with torch.no_grad():
                    judged = self.discriminator(x_uc, y_hat)
                terms["adversarial"] = classifier_adversarial_loss(judged, confidence, h.alpha)
                c_loss = c_loss + terms["adversarial"]
                if self.pseudo_labelling:
                    with torch.no_grad():
                        fake = self.generator(self.sample_latent(len(y_g)), y_g)
                    probs_g = F.softmax(self.classifier(fake).float(), dim=1)
                    terms["pseudo_label"] = h.pseudo_label_weight * cross_entropy(probs_g, y_g)
                    c_loss = c_loss + terms["pseudo_label"]
            c_opt.zero_grad(set_to_none=True)
            self.manual_backward(c_loss)
            c_opt.step()
        losses.append(c_loss)
        logs.update({"loss/c": c_loss, **{f"classifier/{k}": v for k, v in terms.items() if k != "total"}})
        return losses, logs

    # ------------------------------------------------------------------------------------ optimization

    def configure_optimizers(self):
        """[D, G, C in the game, C's pretraining]: four Adams (the script's dis/gen/cla and pretrain updates)."""
        h = self.hparams
        return [
            make_optimizer(h.optimizer, self.discriminator.parameters(), h.d_lr, h.d_betas),
            make_optimizer(h.optimizer, self.generator.parameters(), h.g_lr, h.g_betas),
            make_optimizer(h.optimizer, self.classifier.parameters(), h.c_lr, h.c_betas),
            make_optimizer(h.optimizer, self.classifier.parameters(), h.pretrain_lr, h.pretrain_betas),
        ]

    def lr_factor(self) -> float | None:
        """``lr_decay_factor`` ^ (periods of ``lr_decay_every_kimg`` begun since ``lr_decay_start_kimg``)."""
        h = self.hparams
        if h.lr_decay_start_kimg is None:
            return None
        kimg = self.images_seen / 1000
        if kimg < h.lr_decay_start_kimg:
            return 1.0
        return h.lr_decay_factor ** (int((kimg - h.lr_decay_start_kimg) // h.lr_decay_every_kimg) + 1)

    # -------------------------------------------------------------------------------------- evaluation

    def on_train_epoch_end(self) -> None:
        """Logs ``triplegan/test_error``, the average C's error on the datamodule's test split, when it has one."""
        if self._evaluation is None:
            datamodule = getattr(self.trainer, "datamodule", None)
            split = getattr(datamodule, "evaluation_split", lambda: None)()
            if split is None:
                return
            self._evaluation = split
        self.log("triplegan/test_error", classifier_error(self.classifier_average, *self._evaluation))

    # ------------------------------------------------------------------------------------- persistence

    def get_extra_state(self) -> dict:
        return {**super().get_extra_state(), "classifier_steps": self.classifier_steps}

    def set_extra_state(self, state: dict) -> None:
        super().set_extra_state(state)
        self.classifier_steps = int(state.get("classifier_steps", 0))

    #: 2: C's batch norm keeps lasagne's running mean and inverse std (commit 54e29e7; format 1: PyTorch's
    #: running_mean and running_var)
    checkpoint_format = 2

    @classmethod
    def unversioned_format(cls, checkpoint: dict) -> int:
        """2 for a checkpoint written between 54e29e7 and the zoo's format key (its C has ``inv_std`` buffers)."""
        return 2 if any(k.endswith(".inv_std") for k in checkpoint["state_dict"]) else 1

    @classmethod
    def migrate_checkpoint(cls, checkpoint: dict, old: int, source, generator_only: bool) -> str:
        """Format 1 -> 2, exact: each of C's (and C's average's) ``nn.BatchNorm2d`` buffers become
        ``LasagneBatchNorm``'s: ``mean`` = running_mean, ``inv_std`` = 1 / sqrt(running_var + eps) with BN's eps
        (1e-4, which both formats use), so that the ``inv_std**-2 - eps`` the new layer normalizes with in eval mode
        is the old running variance; ``num_batches_tracked`` goes (lasagne's layer counts nothing)."""
        state = checkpoint["state_dict"]
        converted = 0
        for key in [
            k for k in state if k.startswith(("classifier.", "classifier_average.")) and k.endswith(".running_var")
        ]:
            layer = key[: -len("running_var")]
            variance = state.pop(key)
            state[layer + "inv_std"] = (variance.double() + BN_EPS).rsqrt().to(variance.dtype)
            state[layer + "mean"] = state.pop(layer + "running_mean")
            state.pop(layer + "num_batches_tracked", None)
            converted += 1
        return (
            f"the {converted} batch norms of C and its average now keep lasagne's running mean and inverse std "
            f"1 / sqrt(running_var + {BN_EPS:g}) (the same eval outputs)"
        )

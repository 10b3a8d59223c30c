"""``TextToImageGAN``: what every text-to-image entry shares (gan_t2i; stackgan, stackgan2 build on it).

Batches come from datamodules/captions.py: ``(images, embeddings (B, K, D), characters (B, K, L), classes)``.
The text input is the caption embedding, passed where class-conditional entries pass labels: ``generate(net, z,
t)`` runs ``net(z, t)`` and ``discriminate(x, t)`` runs ``discriminator(x, t)``, so the base loop's sampling
contract (``sample``, zoo/sampling.py, the sample-grid callback) works with ``t`` in place of ``y``.

Stable API for the entries and the sample command:

- ``text_dim`` (linked from the datamodule), ``num_captions`` (0 or 1: one random caption, as StackGAN; n > 1:
  the mean of n random captions, as GAN-INT-CLS's 4, Reed et al. 2016 Sec. 5 and main_cls_int.lua ``numCaption``);
- ``text_batch(batch) -> TextBatch(images, text, classes, wrong, wrong_valid)``: the per-entry embedding rule and,
  for the matching-aware loss, a partner of another class for every item (``wrong_partners``);
- ``encode_text(list[str]) -> (N, text_dim)`` through the frozen char-CNN-RNN stored in the checkpoint
  (``text_encoder``); with StackGAN's pretrained embeddings there is no encoder and it raises a ZooError;
- ``sample_text(t, n_per_text, seed)`` images for embeddings; ``sample_stages(z, t)`` the images of every stage
  (one stage here; StackGAN overrides it);
- the losses as functions: ``matching_aware_d_loss`` (Reed et al. 2016, Algorithm 1) and
  ``interpolated_g_loss`` / ``interpolate_text`` (GAN-INT, Sec. 4.3, beta = 0.5).
"""

from __future__ import annotations

from typing import ClassVar, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from zoo.base import GANModule, eval_mode
from zoo.errors import ZooError
from zoo.text_encoder import CharCNNRNN
from zoo.translation import reject_knobs

#: embeddings kept in the checkpoint for the sample grid and ``sample`` without text (drawn from training data)
PREVIEW_TEXTS = 64


class TextBatch(NamedTuple):
    images: Tensor  # (B, C, H, W) in [-1, 1]
    text: Tensor  # (B, D) the embedding each image is shown with
    classes: Tensor  # (B,)
    wrong: Tensor  # (B,) index of an item of another class: images[wrong[i]] mismatches text[i]
    wrong_valid: Tensor  # (B,) bool: False where the batch holds no other class


# ---------------------------------------------------------------------------------------------- batches


def choose_text(embeddings: Tensor, num_captions: int, generator: torch.Generator | None = None) -> Tensor:
    """(B, D) from per-image caption embeddings (B, K, D): one random caption each (``num_captions`` <= 1, StackGAN's
    rule) or the mean of ``num_captions`` captions drawn at random with replacement (Reed et al.'s data loader draws
    each of the numCaption captions independently)."""
    b, k, _ = embeddings.shape
    n = max(num_captions, 1)
    picks = torch.randint(k, (b, n), generator=generator, device=embeddings.device)
    chosen = embeddings.gather(1, picks[..., None].expand(-1, -1, embeddings.shape[2]))
    return chosen.mean(1)


def wrong_partners(classes: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """For every item, a random item of the batch of a *different* class (reedscot/icml2016 draws the wrong image
    from a second, distinct class), and whether one exists. Vectorized, no host sync."""
    same = classes[:, None] == classes[None, :]
    scores = torch.rand(same.shape, generator=generator, device=classes.device)
    partner = torch.where(same, -1.0, scores).argmax(1)
    return partner, (~same).any(1)


# ----------------------------------------------------------------------------------------------- losses


def matching_aware_d_loss(
    real_right: Tensor,
    real_wrong: Tensor,
    fake_right: Tensor,
    cls_weight: float = 0.5,
    wrong_valid: Tensor | None = None,
) -> Tensor:
    """GAN-CLS's discriminator loss on logits (Reed et al. 2016, Algorithm 1; main_cls_int.lua with BCE):

        BCE(D(x, t), 1) + c BCE(D(x_wrong, t), 0) + (1 - c) BCE(D(G(z, t), t), 0),   c = cls_weight

    each term a batch mean; c = 0.5 is the paper's log D(real, right) + (log(1 - D(real, wrong)) +
    log(1 - D(fake, right))) / 2, c = 0 the plain conditional GAN. Items without a wrong partner
    (``wrong_valid`` False) are left out of the wrong term's mean."""
    loss = F.softplus(-real_right).mean() + (1 - cls_weight) * F.softplus(fake_right).mean()
    if cls_weight:
        wrong = F.softplus(real_wrong)
        if wrong_valid is not None:
            valid = wrong_valid.to(wrong.dtype)
            wrong = (wrong * valid).sum() / valid.sum().clamp(min=1)
        loss = loss + cls_weight * wrong.mean()
    return loss


def interpolate_text(text: Tensor, beta: float = 0.5) -> Tensor:
    """GAN-INT's extra conditions (Reed et al. 2016, Sec. 4.3): beta t1 + (1 - beta) t2 for the first half of the
    batch against the second (main_cls_int.lua ``interp_type 1``: (t_i + t_{i+B/2}) / 2), (B // 2, D)."""
    half = text.shape[0] // 2
    return beta * text[:half] + (1 - beta) * text[half : 2 * half]


def interpolated_g_loss(fake_right: Tensor, fake_interp: Tensor, interp_weight: float = 1.0) -> Tensor:
    """The generator's loss with GAN-INT (main_cls_int.lua: a weighted BCECriterion over the 1.5B outputs): the
    non-saturating BCE(D(G(z, t), t), 1) summed over the B real conditions plus ``interp_weight`` times the sum over
    the B/2 interpolated ones, divided by all 1.5B outputs."""
    total = F.softplus(-fake_right).sum() + interp_weight * F.softplus(-fake_interp).sum()
    return total / (fake_right.numel() + fake_interp.numel())


# ----------------------------------------------------------------------------------------------- module


class TextToImageGAN(GANModule):
    """A GAN conditioned on caption embeddings; see the module docstring for what it provides."""

    default_data = "captioned_mnist"
    conditional = False  # no class labels: the text comes from the datamodule's embeddings
    #: GANModule knobs the entry's own game does not use: name -> the only value accepted (subclasses may change it)
    fixed_knobs: ClassVar[dict] = {
        "d_steps": 1, "packing": 1, "num_classes": None, "penalties": None, "weight_clip": None, "lr_decay_kimg": None
    }  # fmt: skip

    def __init__(
        self,
        text_dim: int = 1024,
        text_encoder: dict | None = None,
        num_captions: int = 4,
        objective: str | None = None,
        **kwargs,
    ):
        """
        Args:
            text_dim: size of a caption embedding, linked from the datamodule (1024: Reed et al.'s char-CNN-RNN).
            text_encoder: the zoo char-CNN-RNN's architecture, linked from the datamodule when it trained one (the
                encoder is then stored in checkpoints, for ``sample --text``); None: pretrained embeddings.
            num_captions: captions averaged into one text input (4 for GAN-INT-CLS); 1: one random caption.
            objective: must stay None: the matching-aware BCE losses are the entry's own.
        """
        name = type(self).__name__
        if objective is not None:
            raise ZooError(f"{name} trains on its own matching-aware losses; --model.objective does not apply to it")
        latent_dim = kwargs.get("latent_dim")
        reject_knobs(name, kwargs, self.fixed_knobs, "its game and schedule are its paper's")
        if latent_dim is not None:
            kwargs["latent_dim"] = latent_dim  # reject_knobs drops it (translators have none); this entry has one
        if text_dim is None:
            raise ZooError("a text-to-image model needs caption embeddings: drop --data.text_embeddings none")
        if num_captions < 1:
            raise ZooError(f"num_captions must be >= 1, got {num_captions}")
        super().__init__(objective=None, **kwargs)
        self.text_dim, self.num_captions = text_dim, num_captions
        self.text_encoder = None
        if text_encoder is not None:
            self.text_encoder = CharCNNRNN(**text_encoder).requires_grad_(False)  # frozen; no dropout or BN
        self.register_buffer("preview_text", torch.zeros(PREVIEW_TEXTS, text_dim))

    # ------------------------------------------------------------------------------------------- data

    def setup(self, stage: str) -> None:
        """Asks the datamodule for caption embeddings and copies its text encoder's weights into the model."""
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        if stage != "fit" or datamodule is None or not hasattr(datamodule, "attach_text_embeddings"):
            return
        state = datamodule.attach_text_embeddings()
        if (state is None) != (self.text_encoder is None):
            raise ZooError("the model's text_encoder must be linked from the datamodule (--data's text_embeddings)")
        if state is not None:
            self.text_encoder.load_state_dict(state)

    def text_batch(self, batch, generator: torch.Generator | None = None) -> TextBatch:
        """The batch's images, the text input of each (``choose_text``) and a wrong partner for each."""
        images, embeddings, _, classes = batch
        if embeddings is None:
            raise ZooError(
                "this batch holds no caption embeddings: train text-to-image models on --data captions or "
                "captioned_mnist (the zoo's text encoder is trained on first use, or run python cli.py prepare)"
            )
        rng = generator if generator is not None else self._latent_rng
        text = choose_text(embeddings.float(), self.num_captions, rng)
        wrong, valid = wrong_partners(classes, rng)
        if self.training and self.iterations == 0:  # the first training texts, kept for sample grids
            n = min(PREVIEW_TEXTS, len(text))
            self.preview_text[:n] = text[:n].detach()
            self.preview_text[n:] = text[:1].detach()
        return TextBatch(images, text, classes, wrong, valid)

    def sample_labels(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Text inputs for ``sample`` without captions: training texts kept in the checkpoint, drawn at random."""
        rng = generator if generator is not None else self._latent_rng
        device = rng.device if rng is not None else self.device
        rows = torch.randint(PREVIEW_TEXTS, (n,), generator=rng, device=device).to(self.device)
        return self.preview_text[rows]

    def sample_fake_labels(self, n: int) -> Tensor:
        raise ZooError("text-to-image fakes take the batch's texts (text_batch), not sampled labels")

    # ----------------------------------------------------------------------------------------- text in

    def encode_text(self, captions: list[str]) -> Tensor:
        """Embeddings (N, text_dim) of captions through the checkpoint's frozen char-CNN-RNN."""
        if self.text_encoder is None:
            raise ZooError(
                f"{type(self).__name__} was trained on pretrained caption embeddings (char-CNN-RNN-embeddings.pickle) "
                "and holds no text encoder, so it cannot read --text: train it on data without the pickle (the zoo "
                "trains its own encoder, --data.text_embeddings zoo) or sample without --text"
            )
        if not captions:
            raise ZooError('no caption given: pass --text "..." or a --text_file with one caption per line')
        return self.text_encoder.encode(list(captions)).to(self.device)

    @torch.no_grad()
    def sample_text(self, text: Tensor, per_text: int = 1, seed: int = 0) -> Tensor:
        """``per_text`` images for each embedding of ``text`` (N, D), grouped by text: (N * per_text, C, H, W)."""
        z = self.sample_latent(len(text) * per_text, generator=torch.Generator().manual_seed(seed))
        net = self.generator_ema if self.generator_ema is not None else self.generator
        with eval_mode(net):
            return self.generate(net, z, text.to(self.device).repeat_interleave(per_text, 0)).float().cpu()

    def sample_stages(self, z: Tensor, text: Tensor) -> list[Tensor]:
        """The images of every stage for latents ``z`` and texts ``text``, smallest first (one stage here)."""
        net = self.generator_ema if self.generator_ema is not None else self.generator
        with torch.no_grad(), eval_mode(net):
            return [self.generate(net, z.to(self.device), text.to(self.device)).float().cpu()]

    @torch.no_grad()
    def text_scores(self, images: Tensor, text: Tensor) -> Tensor:
        """D's logits (N,) for pairs (image, text) in eval mode: the matching-aware AUC's scores."""
        with eval_mode(self.discriminator):
            return self.discriminate(images.to(self.device), text.to(self.device)).float().cpu()

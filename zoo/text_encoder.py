"""The zoo's char-CNN-RNN text encoder and the loss it is trained with.

Reed, Akata, Lee and Schiele 2016, "Learning Deep Representations of Fine-Grained Visual Descriptions" (CVPR):
a caption, one-hot characters, goes through a temporal CNN and a GRU whose hidden states are averaged over time,
then a linear layer (the "hybrid CNN-RNN", Sec. 3.2; reedscot/icml2016 modules/HybridCNNLong.lua: conv k4 384 +
ReLU + max-pool 3, conv k4 512 + ReLU + max-pool 3, conv k4 256 + ReLU, GRU over the 18 steps left of 201
characters, Linear to 1024). It is trained with the symmetric structured joint embedding loss (DS-SJE, Sec. 3.1,
Eq. 3-5; reedscot/cvpr2016 train_sje_hybrid.lua ``JointEmbeddingLoss`` with ``symmetric 1``) against fixed image
features, with the image encoder a no-op (``image_noop 1``: the text embedding has the image features' size).

The zoo's widths are small for a CPU (64/128/128 channels, a 128-d embedding: the penultimate layer of the zoo's
MNIST classifier, metrics/mnist_classifier.py, for captioned MNIST); the shape is Reed's.

API used by the text-to-image entries (stable): ``CharCNNRNN(**architecture)``, ``CharCNNRNN.encode(list[str])``,
``joint_embedding_loss(text, image)``, ``train_text_encoder(...)``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zoo.errors import ZooError

#: the zoo's small widths (Reed's: 384, 512, 256 and a 1024-d embedding)
DEFAULT_ARCHITECTURE = {"alphabet_size": 70, "channels": (64, 128, 128), "embedding_dim": 128}
#: kernel and pooling of the temporal convolutions (HybridCNNLong.lua)
KERNEL, POOL = 4, 3


def min_text_length() -> int:
    """The fewest characters that leave >= 1 step for the GRU after the three convolutions and two poolings."""
    steps = 1
    for _ in range(2):
        steps = (steps + KERNEL - 1) * POOL
    return steps + KERNEL - 1


class CharCNNRNN(nn.Module):
    """Hybrid char-CNN-RNN: (N, L) int64 character ids (0 pads, 1..alphabet_size as datamodules/captions.py
    encodes them) -> (N, embedding_dim) embeddings."""

    def __init__(
        self, alphabet_size: int = 70, channels: tuple[int, int, int] = (64, 128, 128), embedding_dim: int = 128
    ):
        super().__init__()
        c1, c2, c3 = channels
        self.alphabet_size = alphabet_size
        self.convs = nn.Sequential(
            nn.Conv1d(alphabet_size, c1, KERNEL),
            nn.ReLU(),
            nn.MaxPool1d(POOL, POOL),
            nn.Conv1d(c1, c2, KERNEL),
            nn.ReLU(),
            nn.MaxPool1d(POOL, POOL),
            nn.Conv1d(c2, c3, KERNEL),
            nn.ReLU(),
        )
        self.rnn = nn.GRU(c3, c3, batch_first=True)
        self.out = nn.Linear(c3, embedding_dim)

    def forward(self, characters: Tensor) -> Tensor:
        if characters.shape[-1] < min_text_length():
            raise ZooError(f"the char-CNN-RNN needs captions of >= {min_text_length()} characters (padded); got "
                           f"{characters.shape[-1]}: raise --data.text_length")  # fmt: skip
        one_hot = F.one_hot(characters, self.alphabet_size + 1)[..., 1:].float()  # id 0 (padding) -> all zeros
        h = self.convs(one_hot.transpose(1, 2))  # (N, C, T)
        states, _ = self.rnn(h.transpose(1, 2))  # (N, T, C)
        return self.out(states.mean(1))

    @torch.no_grad()
    def encode(self, captions: list[str], text_length: int = 201) -> Tensor:
        """Embeddings (N, D) of captions given as text, in eval mode, on the encoder's device."""
        from datamodules.captions import char_ids

        device = next(self.parameters()).device
        characters = torch.stack([char_ids(c, text_length) for c in captions]).to(device)
        was_training = self.training
        self.eval()
        try:
            return self(characters)
        finally:
            self.train(was_training)


def joint_embedding_loss(text: Tensor, image: Tensor) -> Tensor:
    """The symmetric structured joint embedding loss (Reed et al. 2016 CVPR, Eq. 3-5) of a batch holding one
    (text, image) pair per class, pair i matching: with compatibility s_ij = <image_i, text_j>,

        1/B^2 sum_i sum_{j != i} [max(0, 1 + s_ij - s_ii) + max(0, 1 + s_ji - s_ii)]

    the hinge over texts for each image plus the hinge over images for each text, each summed and divided by
    batch x classes as reedscot/cvpr2016's ``JointEmbeddingLoss`` does."""
    scores = image @ text.T  # (B images, B texts)
    right = scores.diagonal()
    off = ~torch.eye(len(scores), dtype=torch.bool, device=scores.device)
    over_texts = (1 + scores - right[:, None]).clamp(min=0)[off].sum()
    over_images = (1 + scores.T - right[:, None]).clamp(min=0)[off].sum()
    return (over_texts + over_images) / scores.numel()


def distinct_class_batch(classes: Tensor, size: int, generator: torch.Generator) -> Tensor:
    """Indices of ``size`` items of distinct classes (fewer when there are fewer classes), one random item per
    random class: the minibatches of reedscot/cvpr2016's loader, whose batch i-th item is the i-th class."""
    labels = classes.unique()
    chosen = labels[torch.randperm(len(labels), generator=generator)[:size]]
    scores = torch.rand(len(classes), generator=generator)
    members = classes[None, :] == chosen[:, None]  # (size, N)
    return torch.where(members, scores[None], -1.0).argmax(1)


def train_text_encoder(
    characters: Tensor,
    classes: Tensor,
    image_features: Tensor,
    architecture: dict | None = None,
    steps: int = 1500,
    batch_size: int = 40,
    lr: float = 4e-4,
    seed: int = 0,
    progress: Callable[[int, float], None] | None = None,
) -> CharCNNRNN:
    """A ``CharCNNRNN`` trained with ``joint_embedding_loss`` on captions ``characters`` (N, K, L) of images with
    ``image_features`` (N, D) and ``classes`` (N,): each step takes ``batch_size`` distinct classes, one image each
    and one of its K captions at random. RMSprop at ``lr`` and uniform(-0.08, 0.08) initial weights, as
    reedscot/cvpr2016 train_sje_hybrid.lua (its 0.98 per-epoch learning-rate decay is left out: a few thousand
    steps here). Seeded: the same inputs give the same weights. Returns the encoder in eval mode."""
    architecture = {**DEFAULT_ARCHITECTURE, **(architecture or {})}
    if image_features.shape[1] != architecture["embedding_dim"]:
        raise ZooError(
            f"the text embedding ({architecture['embedding_dim']}) must have the image features' size "
            f"({image_features.shape[1]}): the image encoder is a no-op, as Reed et al.'s image_noop"
        )
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        encoder = CharCNNRNN(**architecture)
    with torch.no_grad():
        for p in encoder.parameters():
            p.uniform_(-0.08, 0.08, generator=generator)
    optimizer = torch.optim.RMSprop(encoder.parameters(), lr=lr)
    encoder.train()
    for step in range(steps):
        items = distinct_class_batch(classes, batch_size, generator)
        caption = torch.randint(characters.shape[1], (len(items),), generator=generator)
        loss = joint_embedding_loss(encoder(characters[items, caption]), image_features[items])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if progress is not None:
            progress(step, loss)
    return encoder.eval()

"""BigGAN-deep's networks (Brock, Donahue and Simonyan 2019, "Large Scale GAN Training for High Fidelity Natural
Image Synthesis", arXiv 1809.11096, App. B, Fig. 16 and Table 5), layer for layer as the authors' PyTorch code
(ajbrock/BigGAN-PyTorch, BigGANdeep.py ``GBlock``, ``Generator``, ``DBlock``, ``Discriminator``, ``G_arch``,
``D_arch``).

What changes against BigGAN (zoo/nets/biggan.py):

- Bottleneck residual blocks (Fig. 16): a 1x1 conv to a quarter of the channels, two 3x3 convs, a 1x1 conv
  back, with BN-ReLU (G, conditional) or ReLU (D) before every conv; ``depth`` blocks per resolution (2).
- G's skip has no conv: it keeps the first ``out`` channels of its input ("channel dropping") and upsamples;
  the first block of a resolution keeps the width and size, the last one changes the width and upsamples.
- D's skip concatenates the (average-pooled) input with a 1x1 conv giving the ``out - in`` extra channels; the
  first block of a resolution changes the width and downsamples. D starts with a 3x3 conv from the image.
- No hierarchical z: all of z, concatenated after the shared class embedding ([embedding, z], their
  ``torch.cat([y, z], 1)``), feeds G's linear layer and every conditional BN.

Modules are nested as theirs, so checkpoints map name for name (zoo/importers/biggan_pytorch_deep.py): G's
``blocks.<k>`` holds one block each (k runs over all blocks), the attention layer appended to the last block of
its resolution (``blocks.<k>.1``); D's ``blocks.<i>`` holds resolution i's blocks, then its attention layer.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zoo.errors import ZooError
from zoo.nets.resnet import upsample
from zoo.nn.attention import SelfAttention
from zoo.nn.conditional import ConditionalBatchNorm2d, ProjectionHead
from zoo.nn.spectral_norm import Layers

#: the bottleneck's channel ratio (their ``channel_ratio``): the hidden width is in/4 in G, out/4 in D
CHANNEL_RATIO = 4


@dataclass(frozen=True)
class DeepArchitecture:
    """Channel multipliers per resolution stage (their ``G_arch`` / ``D_arch`` at one resolution): G stage i
    goes from ``g_in[i]`` to ``g_out[i]`` channels at ``8 * 2**i`` px; D stage i from ``d_in[i]`` to ``d_out[i]``,
    halving the size where ``d_downsample[i]``, listed at ``d_sizes[i]`` px (what their ``D_attn`` is matched
    against)."""

    g_in: tuple[int, ...]
    g_out: tuple[int, ...]
    d_in: tuple[int, ...]
    d_out: tuple[int, ...]
    d_downsample: tuple[bool, ...]
    d_sizes: tuple[int, ...]

    def g_sizes(self) -> list[int]:
        return [8 * 2**i for i in range(len(self.g_in))]


#: BigGANdeep.py ``G_arch`` / ``D_arch`` at 32-256 px (their lists are longer than the stages at some resolutions:
#: the stages are as many as ``in_channels``, the rest is never read)
BIGGAN_DEEP_ARCHITECTURES = {
    32: DeepArchitecture((4, 4, 4), (4, 4, 4), (4, 4, 4), (4, 4, 4), (True, True, False), (16, 16, 16)),
    64: DeepArchitecture(
        (16, 16, 8, 4), (16, 8, 4, 2), (1, 2, 4, 8), (2, 4, 8, 16), (True, True, True, True), (32, 16, 8, 4)
    ),
    128: DeepArchitecture(
        (16, 16, 8, 4, 2), (16, 8, 4, 2, 1), (1, 2, 4, 8, 16), (2, 4, 8, 16, 16), (True,) * 5, (64, 32, 16, 8, 4)
    ),
    256: DeepArchitecture(
        (16, 16, 8, 8, 4, 2),
        (16, 8, 8, 4, 2, 1),
        (1, 2, 4, 8, 8, 16),
        (2, 4, 8, 8, 16, 16),
        (True,) * 6,
        (128, 64, 32, 16, 8, 4),
    ),
    # not in BigGANdeep.py: G is the TF-Hub biggan-deep-512 layout (the one pytorch-pretrained-biggan converts),
    # D its counterpart, both as open-mmlab/mmgeneration's BigGANDeepGenerator / Discriminator list them
    512: DeepArchitecture(
        (16, 16, 8, 8, 4, 2, 1),
        (16, 8, 8, 4, 2, 1, 1),
        (1, 1, 2, 4, 8, 8, 16),
        (1, 2, 4, 8, 8, 16, 16),
        (True,) * 7,
        (256, 128, 64, 32, 16, 8, 4),
    ),
}


def architecture(resolution: int) -> DeepArchitecture:
    if resolution not in BIGGAN_DEEP_ARCHITECTURES:
        supported = ", ".join(str(r) for r in BIGGAN_DEEP_ARCHITECTURES)
        raise ZooError(f"biggan_deep has architectures for {supported} px, not {resolution}; set --data.resolution")
    return BIGGAN_DEEP_ARCHITECTURES[resolution]


def check_attention(sizes: list[int], attention_resolution: int | None, network: str) -> None:
    if attention_resolution is not None and attention_resolution not in sizes:
        listed = ", ".join(str(s) for s in sorted(set(sizes)))
        raise ZooError(
            f"no biggan_deep {network} stage is at {attention_resolution} px for self-attention; its stages are at "
            f"{listed} px: set --model.attention_resolution to one of them"
        )


class DeepGBlock(nn.Module):
    """G's bottleneck block (their ``GBlock``): BN-ReLU-1x1 to in/4, BN-ReLU, (upsample), 3x3, BN-ReLU-3x3,
    BN-ReLU-1x1 to ``out``; the skip keeps the input's first ``out`` channels and is upsampled with h."""

    def __init__(
        self, in_channels: int, out_channels: int, norm, layers: Layers, upsample: bool, activation: nn.Module
    ):
        super().__init__()
        hidden = in_channels // CHANNEL_RATIO
        self.out_channels, self.upsample, self.activation = out_channels, upsample, activation
        self.conv1 = layers.conv(in_channels, hidden, 1)
        self.conv2 = layers.conv(hidden, hidden, 3)
        self.conv3 = layers.conv(hidden, hidden, 3)
        self.conv4 = layers.conv(hidden, out_channels, 1)
        self.bn1, self.bn2, self.bn3, self.bn4 = norm(in_channels), norm(hidden), norm(hidden), norm(hidden)

    def forward(self, x: Tensor, condition: Tensor) -> Tensor:
        act = self.activation
        h = self.conv1(act(self.bn1(x, condition)))
        h = act(self.bn2(h, condition))
        x = x[:, : self.out_channels]
        if self.upsample:
            h, x = upsample(h), upsample(x)
        h = self.conv3(act(self.bn3(self.conv2(h), condition)))
        return self.conv4(act(self.bn4(h, condition))) + x


class DeepDBlock(nn.Module):
    """D's bottleneck block (their ``DBlock``): ReLU-1x1 to out/4, ReLU-3x3, ReLU-3x3, ReLU, (average pool),
    1x1 to ``out``; the skip is the (pooled) input, concatenated with a 1x1 conv of it giving ``out - in`` more
    channels when the width grows."""

    def __init__(self, in_channels: int, out_channels: int, layers: Layers, downsample: bool, activation: nn.Module):
        super().__init__()
        hidden = out_channels // CHANNEL_RATIO
        self.downsample, self.activation = downsample, activation
        self.conv1 = layers.conv(in_channels, hidden, 1)
        self.conv2 = layers.conv(hidden, hidden, 3)
        self.conv3 = layers.conv(hidden, hidden, 3)
        self.conv4 = layers.conv(hidden, out_channels, 1)
        if out_channels < in_channels:
            raise ZooError(f"a BigGAN-deep D block cannot narrow {in_channels} to {out_channels} channels")
        self.shortcut = layers.conv(in_channels, out_channels - in_channels, 1) if out_channels > in_channels else None

    def pool(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(x, 2) if self.downsample else x

    def forward(self, x: Tensor) -> Tensor:
        act = self.activation
        h = self.conv1(F.relu(x))
        h = self.conv3(act(self.conv2(act(h))))
        h = self.conv4(self.pool(act(h)))
        skip = self.pool(x)
        if self.shortcut is not None:
            skip = torch.cat([skip, self.shortcut(skip)], dim=1)
        return h + skip


class BigGANDeepGenerator(nn.Module):
    """``forward(z, y)``: [shared(y), z] -> linear -> ``g_in[0]`` x 4 x 4 -> ``depth`` bottleneck blocks per
    stage (every conditional BN fed [shared(y), z]), self-attention after the stage at ``attention_resolution``
    -> BN, ReLU, 3x3 conv, tanh. ``rgb_channels``: the output conv's width, of which the first
    ``image_channels`` are kept (None: ``image_channels``; the TF-Hub models' conv_to_rgb has ch, see
    zoo/importers/pretrained_biggan.py)."""

    def __init__(
        self,
        latent_dim: int,
        num_classes: int,
        arch: DeepArchitecture,
        width: int,
        image_channels: int,
        layers: Layers,
        shared_dim: int = 128,
        depth: int = 2,
        attention_resolution: int | None = None,
        bn_eps: float = 1e-5,
        rgb_channels: int | None = None,
        activation: nn.Module | None = None,
    ):
        super().__init__()
        activation = activation or nn.ReLU()
        condition_dim = shared_dim + latent_dim
        norm = functools.partial(
            ConditionalBatchNorm2d.by_vector, condition_dim=condition_dim, layers=layers, eps=bn_eps
        )
        g_in, g_out = [width * m for m in arch.g_in], [width * m for m in arch.g_out]
        check_attention(arch.g_sizes(), attention_resolution, "generator")
        self.image_channels = image_channels
        self.shared = dataclasses.replace(layers, spectral_norm=False).embedding(num_classes, shared_dim)
        self.linear = layers.linear(condition_dim, g_in[0] * 16)
        self.blocks = nn.ModuleList()
        for c_in, c_out, size in zip(g_in, g_out, arch.g_sizes(), strict=True):
            for j in range(depth):
                last = j == depth - 1
                entry = nn.ModuleList([DeepGBlock(c_in, c_out if last else c_in, norm, layers, last, activation)])
                if last and size == attention_resolution:
                    entry.append(SelfAttention(c_out, layers))
                self.blocks.append(entry)
        self.out = nn.Sequential(
            nn.BatchNorm2d(g_out[-1], eps=bn_eps),
            activation,
            layers.conv(g_out[-1], rgb_channels or image_channels, 3),
        )

    def forward(self, z: Tensor, y: Tensor) -> Tensor:
        condition = torch.cat([self.shared(y), z], dim=1)
        h = self.linear(condition).view(z.shape[0], -1, 4, 4)
        for stage in self.blocks:
            for block in stage:
                h = block(h, condition) if isinstance(block, DeepGBlock) else block(h)
        return torch.tanh(self.out(h)[:, : self.image_channels])


class BigGANDeepDiscriminator(nn.Module):
    """3x3 conv -> ``depth`` bottleneck blocks per stage (the first downsampling and widening), self-attention
    after every stage listed at ``attention_resolution`` -> ReLU, global sum pooling, projection head."""

    def __init__(
        self,
        arch: DeepArchitecture,
        width: int,
        image_channels: int,
        layers: Layers,
        num_classes: int,
        depth: int = 2,
        attention_resolution: int | None = None,
        activation: nn.Module | None = None,
    ):
        super().__init__()
        activation = activation or nn.ReLU()
        d_in, d_out = [width * m for m in arch.d_in], [width * m for m in arch.d_out]
        check_attention(list(arch.d_sizes), attention_resolution, "discriminator")
        self.activation = activation
        self.input_conv = layers.conv(image_channels, d_in[0], 3)
        self.blocks = nn.ModuleList()
        for c_in, c_out, down, size in zip(d_in, d_out, arch.d_downsample, arch.d_sizes, strict=True):
            stage = nn.ModuleList(
                DeepDBlock(c_in if j == 0 else c_out, c_out, layers, downsample=down and j == 0, activation=activation)
                for j in range(depth)
            )
            if size == attention_resolution:
                stage.append(SelfAttention(c_out, layers))
            self.blocks.append(stage)
        self.head = ProjectionHead(d_out[-1], num_classes, layers)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        h = self.input_conv(x)
        for stage in self.blocks:
            for block in stage:
                h = block(h)
        return self.head(self.activation(h).sum(dim=(2, 3)), y)

"""COCO-GAN's patch geometry (Lin et al. 2019, "COCO-GAN: Generation by Parts via Conditional Coordinating",
arXiv 1904.00284, Sec. 3 and Fig. 2; reference code hubert0527/COCO-GAN, coord_handler.py and patch_handler.py).

A square image of side ``full`` is a grid of R x R micro patches of side ``micro`` (R = full / micro); a macro
patch is r x r adjacent micro patches (r = macro / micro). Macro patches start at every micro-patch boundary
that keeps them inside the image, P = R - r + 1 positions per axis. Coordinates are (vertical, horizontal) pairs
in [-1, 1], as the reference's (its first coordinate indexes the height):

- micro patch j of R along an axis: -1 + 2 j / (R - 1) (``euclidean_coord_int_full_to_float_micro``);
- macro patch i of P along an axis: -1 + 2 i / (P - 1) (``_gen_const_centroids(target="full")``), and its r x r
  micro patches are micro patches i .. i + r - 1 (the reference's micro coordinates of a macro position reduce
  to that: (macro start + a * micro) / (full - micro) * 2 - 1).

Patches of one image are listed row-major (top row first, left to right) in every function here.
Beyond-boundary generation (Sec. 4.3) extends the micro grid by ``steps`` patches on every side, at coordinates
-1 + 2 (j - steps) / (R - 1) for j = 0 .. R + 2 steps - 1, i.e. past -1 and 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from zoo.errors import ZooError


@dataclass(frozen=True)
class PatchGeometry:
    full: int  # image side
    macro: int  # macro patch side (what D judges)
    micro: int  # micro patch side (what G draws)

    def __post_init__(self):
        if not (self.full % self.micro == 0 and self.macro % self.micro == 0 and self.micro < self.macro < self.full):
            raise ZooError(
                f"COCO-GAN needs micro < macro < full, each a multiple of micro, got full {self.full}, macro "
                f"{self.macro}, micro {self.micro}; set --model.micro_size / --model.macro_size"
            )

    @property
    def micro_per_side(self) -> int:
        """R: micro patches along a side of the image."""
        return self.full // self.micro

    @property
    def micro_per_macro(self) -> int:
        """r: micro patches along a side of a macro patch."""
        return self.macro // self.micro

    @property
    def macro_positions(self) -> int:
        """P: macro patch positions along an axis."""
        return self.micro_per_side - self.micro_per_macro + 1

    def sample_positions(self, n: int, generator: torch.Generator | None = None, device=None) -> Tensor:
        """(n, 2) random macro positions (vertical, horizontal), each uniform in 0 .. P - 1 (``np.random.randint``)."""
        rng_device = generator.device if generator is not None else device
        return torch.randint(self.macro_positions, (n, 2), generator=generator, device=rng_device).to(device)

    def macro_coordinates(self, positions: Tensor) -> Tensor:
        """(n, 2) macro coordinates in [-1, 1] of integer macro positions."""
        return -1 + 2 * positions.float() / (self.macro_positions - 1)

    def micro_positions(self, positions: Tensor) -> Tensor:
        """(n * r * r, 2) integer micro positions of each macro patch's micro patches, row-major within each."""
        r = self.micro_per_macro
        offsets = torch.stack(torch.meshgrid(torch.arange(r), torch.arange(r), indexing="ij"), dim=-1).view(-1, 2)
        return (positions[:, None, :] + offsets.to(positions.device)).view(-1, 2)

    def micro_coordinates(self, positions: Tensor) -> Tensor:
        """(n * r * r, 2) micro coordinates of each macro patch's micro patches, row-major within each."""
        return -1 + 2 * self.micro_positions(positions).float() / (self.micro_per_side - 1)

    def crop_macro(self, images: Tensor, positions: Tensor) -> Tensor:
        """(n, C, macro, macro): the macro patch at each image's position (its top-left micro patch), gathered on
        the device (no host sync)."""
        span = torch.arange(self.macro, device=images.device)
        rows, cols = (positions[:, axis, None] * self.micro + span for axis in (0, 1))
        batch = torch.arange(images.shape[0], device=images.device)[:, None, None]
        return images.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)

    def full_coordinates(self, steps: int = 0) -> Tensor:
        """((R + 2 steps)^2, 2) coordinates of every micro patch of a full image, row-major; ``steps`` > 0 extends
        the grid beyond the image's boundary (Sec. 4.3)."""
        if steps < 0:
            raise ZooError(f"extrapolation steps must be >= 0, got {steps}")
        side = self.micro_per_side
        axis = -1 + 2 * (torch.arange(side + 2 * steps, dtype=torch.float32) - steps) / (side - 1)
        return torch.stack(torch.meshgrid(axis, axis, indexing="ij"), dim=-1).view(-1, 2)


def assemble(patches: Tensor, per_side: int) -> Tensor:
    """(n * k * k, C, p, p) patches, k x k per image row-major -> (n, C, k p, k p) images, without overlap."""
    _, channels, p, _ = patches.shape
    grid = patches.view(-1, per_side, per_side, channels, p, p)
    return grid.permute(0, 3, 1, 4, 2, 5).reshape(-1, channels, per_side * p, per_side * p)


def split(images: Tensor, patch: int) -> Tensor:
    """(n, C, k p, k p) images -> (n * k * k, C, p, p) patches, row-major per image: ``assemble``'s inverse."""
    n, channels, side, _ = images.shape
    k = side // patch
    grid = images.view(n, channels, k, patch, k, patch).permute(0, 2, 4, 1, 3, 5)
    return grid.reshape(n * k * k, channels, patch, patch)

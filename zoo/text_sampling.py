"""``python cli.py sample --text ...``: pictures from captions for the text-to-image entries (zoo/text_to_image.py).

- ``--text "a thick seven leaning right" [--text "..."]`` and ``--text_file F`` (one caption per line): grid.png,
  ``--num_samples`` images per caption, one caption after the other (captions.txt lists them in order);
- ``--interpolate_text "caption A" "caption B"``: interpolation-text.png, ``--strips`` rows of ``--steps`` images,
  each row one latent with the text embedding walking linearly from A to B (GAN-INT's figures, Reed et al. 2016
  Fig. 4 and 6: the noise fixed, the text interpolated);
- an entry with several stages (StackGAN: 64 then 256 px) returns every stage's images from ``sample_stages``
  (smallest first); each picture shows the last stage, and grid-stage1.png, grid-stage2.png ... (and
  interpolation-text-stage1.png ...) each stage, for the same latents and texts.

Latents come from ``--seed`` on the host, so a seed gives the same images on any device.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from zoo.errors import ZooError
from zoo.sampling import lerp, seeded


def read_captions(texts: list[str] | None, text_file: str | None) -> list[str]:
    """The captions of ``--text`` (each) and ``--text_file`` (one per non-empty line), in that order."""
    captions = [t.strip() for t in texts or [] if t.strip()]
    if text_file is not None:
        path = Path(text_file)
        if not path.is_file():
            raise ZooError(f"--text_file {text_file} does not exist: give a text file with one caption per line")
        captions += [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if (texts or text_file) and not captions:
        raise ZooError("no caption given: --text and --text_file hold no non-empty line")
    return captions


def require_text_model(model) -> None:
    if not hasattr(model, "encode_text"):
        raise ZooError(
            f"{type(model).__name__} does not take text: --text, --text_file and --interpolate_text need a "
            "text-to-image checkpoint (gan_t2i, stackgan, stackgan2)"
        )


def caption_stages(model, captions: list[str], per_caption: int, seed: int = 0) -> list[Tensor]:
    """Every stage's images (host, [-1, 1]) of ``per_caption`` samples per caption, grouped by caption."""
    text = model.encode_text(captions).repeat_interleave(per_caption, 0)
    z = model.sample_latent(len(text), generator=seeded(seed))
    return model.sample_stages(z, text)


def text_interpolation(model, start: str, end: str, strips: int = 8, steps: int = 10, seed: int = 0) -> list[Tensor]:
    """Every stage's images of ``strips`` rows of ``steps``: row r keeps latent z_r while the text embedding goes
    linearly from ``start``'s to ``end``'s (end points included)."""
    if strips < 1 or steps < 2:
        raise ZooError(f"an interpolation needs >= 1 strip and >= 2 steps, got {strips} and {steps}")
    a, b = model.encode_text([start, end]).cpu()
    t = torch.linspace(0, 1, steps)[:, None]
    text = lerp(a[None], b[None], t).repeat(strips, 1)
    z = model.sample_latent(strips, generator=seeded(seed)).cpu().repeat_interleave(steps, 0)
    return model.sample_stages(z, text)

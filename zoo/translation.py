"""``TranslationGAN``: the base of the image-to-image family (CycleGAN, StarGAN), whose generators map images to
images instead of latents to images.

Such a model has no latent distribution to sample, so ``sample`` and ``sample_latent`` raise a ZooError that
names what to do instead; FID during training, ``evaluate`` and latent-based sampling refuse it with that message.
What it offers instead:

- ``translate(images, labels)``: translations by the sampling generator (the EMA one when there is one), in eval
  mode; ``labels`` are StarGAN's target domains;
- ``translation_picture(examples)``: the picture the sample-grid callback saves, from a fixed set of training
  examples (``examples``: the dataset's items collated, images in [-1, 1]);
- ``translate_folder``: ``python cli.py sample --input DIR`` (every image of a folder or zip, one PNG each).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from zoo.base import GANModule, eval_mode
from zoo.errors import ZooError
from zoo.sampling import sampling_net


def reject_knobs(entry: str, kwargs: dict, knobs: dict, why: str) -> None:
    """Raises a ZooError when ``kwargs`` sets one of ``knobs`` (name -> the only value ``entry`` accepts), and drops
    ``latent_dim`` (the command line passes GANModule's default; a translator has no latents)."""
    for knob, default in knobs.items():
        if kwargs.get(knob, default) != default:
            raise ZooError(f"{entry} does not take --model.{knob}: {why}")
    kwargs.pop("latent_dim", None)


class TranslationGAN(GANModule):
    """A GANModule whose generator translates images (see the module docstring)."""

    translates_images = True

    def refuse_latents(self, what: str) -> ZooError:
        name = type(self).__name__
        return ZooError(
            f"{name} translates images and has no latent space to sample, so {what} does not apply to it. "
            "Translate a folder of images with `python cli.py sample --ckpt_path CKPT --input DIR`."
        )

    def sample_latent(self, n: int, generator: torch.Generator | None = None, truncation: float | None = None):
        raise self.refuse_latents("sampling from latents (FID, evaluate, sample without --input)")

    def sample(self, n: int, y: Tensor | None = None, truncation: float | None = None, seed: int | None = None):
        raise self.refuse_latents("sample(n)")

    @torch.no_grad()
    def translate(self, images: Tensor, labels: Tensor | None = None, direction: str = "a_to_b") -> Tensor:
        """Translations of ``images`` (in [-1, 1]) by the sampling generator in eval mode."""
        net = sampling_net(self)
        with eval_mode(net):
            return self.run_translator(net, images.to(self.device), labels, direction)

    def run_translator(self, net: nn.Module, images: Tensor, labels: Tensor | None, direction: str) -> Tensor:
        """``net`` (the training or EMA generator) applied to ``images``: the entry's own translation."""
        raise NotImplementedError

    def target_labels(self, names: list[str]) -> Tensor:
        """The target-domain label row for ``sample --target NAMES`` (StarGAN); other translators have none."""
        raise ZooError(f"--target names target domains of a stargan model; {type(self).__name__} has none")

    def translation_picture(self, examples: list[Tensor]) -> tuple[Tensor, int]:
        """(images, images per row) of the sample grid for ``examples``."""
        raise NotImplementedError


@torch.no_grad()
def translate_folder(
    model: TranslationGAN,
    source: str | Path,
    out_dir: Path,
    direction: str = "a_to_b",
    labels: Tensor | None = None,
    batch_size: int = 16,
    limit: int = 0,
) -> tuple[int, Tensor, Tensor]:
    """Translates every image of the folder or zip ``source`` (squared and resized to the model's resolution as
    in training) and writes ``out_dir/<name>.png`` for each; unreadable files are skipped and listed. Returns
    the number of images written, and the first ``limit`` inputs and their translations, for a picture.
    ``labels``: StarGAN's target domains, one row used for every image."""
    from torchvision.utils import save_image

    from datamodules.base import to_unit_range
    from datamodules.folder import folder_or_zip_source
    from datamodules.images import DECODE_ERRORS, DecodedImages

    resolution, channels = model.hparams.resolution, model.hparams.channels
    images = DecodedImages(folder_or_zip_source(Path(source), labels=False)[0], resolution, channels, None, False)
    out_dir.mkdir(parents=True, exist_ok=True)
    shown_in, shown_out, skipped, written = [], [], [], 0
    for start in range(0, len(images), batch_size):
        names, batch = [], []
        for i in range(start, min(start + batch_size, len(images))):
            try:
                batch.append(torch.from_numpy(images.decode(i)))
            except DECODE_ERRORS:
                skipped.append(images.source.describe(i))
                continue
            names.append(Path(images.source.describe(i)).with_suffix(".png").name)
        if not batch:
            continue
        inputs = to_unit_range(torch.stack(batch))
        y = None if labels is None else labels.expand(len(inputs), *labels.shape[1:])
        outputs = model.translate(inputs, y, direction).float().cpu()
        for name, image in zip(names, outputs):
            save_image(image, out_dir / name, normalize=True, value_range=(-1, 1))
        written += len(names)
        room = max(0, limit - sum(len(x) for x in shown_in))
        shown_in.append(inputs[:room])
        shown_out.append(outputs[:room])
    if skipped:
        print(f"{len(skipped)} unreadable image(s) skipped: {', '.join(skipped)}")
    if not shown_in:
        raise ZooError(f"none of the images in {source} could be read")
    return written, torch.cat(shown_in), torch.cat(shown_out)

"""Feature extractors: the FID Inception network, where its weights are found, and custom extractors.

An extractor is what clean-fid calls a ``custom_feat_extractor``: ``extractor(x)`` maps float32 images
(N, 3, S, S) with values in [0, 255] to features (N, D). It may also have

- ``input_size`` (default 299): the size S that images are clean-resized to before it sees them;
- ``channels_last`` (default True): whether batches reach it in channels-last layout (faster; False gives
  bit-for-bit the features of the contiguous layout that clean-fid uses);
- ``logits(features)`` -> (N, K) class logits, needed for the Inception Score;
- ``name`` (for reports) and ``sha256`` (identifies its weights in reports and statistics caches).

The same object can be given to clean-fid's ``compute_fid(custom_feat_extractor=...)``, which is how the
tests check that both compute the same numbers. ``load_extractor`` builds the TorchScript Inception-v3 of
clean-fid and StyleGAN2-ADA, or any extractor named ``module:callable`` (for tests and custom features).
"""

from __future__ import annotations

import hashlib
import importlib
import os
import urllib.error
import urllib.request
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from zoo.errors import ZooError

INCEPTION_FILE = "inception-2015-12-05.pt"
INCEPTION_URL = f"https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/{INCEPTION_FILE}"
#: environment variable that points at the weights file
WEIGHTS_ENV = "GAN_ZOO_INCEPTION"


def sha256_of(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cached_weights() -> Path:
    """Where a download goes: the GAN Zoo cache ($GAN_ZOO_CACHE or ~/.cache/gan-zoo)."""
    from datamodules.images import default_cache_dir

    return default_cache_dir() / INCEPTION_FILE


def weight_locations() -> list[Path]:
    """Where the weights are looked for, in order: $GAN_ZOO_INCEPTION, the GAN Zoo cache and clean-fid's
    download folder (its feature_extractor() saves the file in /tmp, or . on Windows)."""
    env = [Path(os.environ[WEIGHTS_ENV]).expanduser()] if os.environ.get(WEIGHTS_ENV) else []
    return [*env, cached_weights(), Path("." if os.name == "nt" else "/tmp") / INCEPTION_FILE]


def download(url: str, target: Path, timeout: float = 60.0) -> Path:
    """Downloads ``url`` to ``target`` through a temporary file, so a broken download leaves nothing behind."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as f:
            while chunk := response.read(1 << 20):
                f.write(chunk)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def find_inception_weights(path: str | os.PathLike | None = None, download_missing: bool = True) -> Path:
    """The weights file: ``path`` if given (it must exist), else the first of ``weight_locations()`` that
    exists, else a download into the GAN Zoo cache. Failing all of these raises one ZooError that names the
    URL, the paths searched and where to put the file."""
    if path is not None:
        if not Path(path).is_file():
            raise ZooError(f"Inception weights not found at {path} (given with --weights); download {INCEPTION_URL}")
        return Path(path)
    places = weight_locations()
    for place in places:
        if place.is_file():
            return place
    cache = cached_weights()
    reason = "downloads are off"
    if download_missing:
        try:
            return download(INCEPTION_URL, cache)
        except (urllib.error.URLError, OSError, TimeoutError) as err:
            reason = f"the download failed: {err}"
    raise ZooError(
        f"the FID Inception weights {INCEPTION_FILE} were not found (searched: {', '.join(map(str, places))}) "
        f"and {reason}. Download {INCEPTION_URL} and put it at {cache}, or point --weights PATH or "
        f"{WEIGHTS_ENV}=PATH at it."
    )


class InceptionFeatures(nn.Module):
    """Inception-v3 (Szegedy et al. 2016) as trained in TensorFlow's inception-2015-12-05, the network of
    FID (Heusel et al. 2017) and IS (Salimans et al. 2016), in the TorchScript translation that clean-fid
    and StyleGAN2-ADA use. ``forward`` gives the 2048-d pool3 features of 299x299 images in [0, 255]
    (normalized to [-1, 1] as clean-fid does); ``logits`` the 1008 class logits without the output bias,
    as the original IS code computes them."""

    input_size = 299

    def __init__(self, path: str | os.PathLike):
        super().__init__()
        try:
            with warnings.catch_warnings():  # torch.jit.load is deprecated, but this file only exists as TorchScript
                warnings.simplefilter("ignore", FutureWarning)
                self.net = torch.jit.load(str(path), map_location="cpu").eval()
        except (RuntimeError, ValueError) as err:
            raise ZooError(f"{path} is not the TorchScript file {INCEPTION_FILE} ({err}); download {INCEPTION_URL}")
        self.path, self.sha256 = Path(path), sha256_of(path)
        self.name = f"{INCEPTION_FILE} (TorchScript Inception-v3, pool3 2048-d)"

    def forward(self, images: Tensor) -> Tensor:
        return self.net.layers((images - 128) / 128).reshape(len(images), 2048)

    def logits(self, features: Tensor) -> Tensor:
        return features @ self.net.output.weight.T


def load_extractor(weights: str | os.PathLike | None = None, spec: str | None = None, download_missing: bool = True):
    """The FID Inception network (weights from ``find_inception_weights(weights)``), or, with ``spec`` =
    ``"module:callable"``, whatever that callable returns when called without arguments (an extractor as
    described in this module's docstring; for tests and custom features)."""
    if spec is None:
        return InceptionFeatures(find_inception_weights(weights, download_missing))
    module_name, _, attr = spec.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError) as err:
        raise ZooError(f"cannot load the extractor '{spec}' (expected module:callable): {err}") from err
    return factory()


def extractor_name(extractor) -> str:
    return getattr(extractor, "name", None) or type(extractor).__qualname__


def extractor_fingerprint(extractor) -> str:
    """Identifies an extractor's function: the sha256 of its weights file, or of its class name and
    parameters/buffers (for modules built in code)."""
    if getattr(extractor, "sha256", None):
        return extractor.sha256
    digest = hashlib.sha256(f"{type(extractor).__module__}.{type(extractor).__qualname__}".encode())
    if isinstance(extractor, nn.Module):
        for name, tensor in sorted(extractor.state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()

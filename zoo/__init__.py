"""The model zoo: short names (``--model dcgan``) mapped to GANModule classes, and each one's one-line summary.

Importing this package imports no model (nor torch or Lightning): ``python cli.py models`` lists the zoo from
``MODELS`` and ``SUMMARIES`` alone, and ``get_model`` imports one entry's module when it is asked for."""

from __future__ import annotations

from zoo.registry import name_of, resolve

#: short name -> "module:Class"
MODELS = {
    "gan": "zoo.gan:GAN",
    "dcgan": "zoo.dcgan:DCGAN",
    "lsgan": "zoo.lsgan:LSGAN",
    "wgan": "zoo.wgan:WGAN",
    "wgan_gp": "zoo.wgan_gp:WGANGP",
    "dragan": "zoo.dragan:DRAGAN",
    "fgan": "zoo.fgan:FGAN",
    "relativistic": "zoo.relativistic:RelativisticGAN",
    "ebgan": "zoo.ebgan:EBGAN",
    "began": "zoo.began:BEGAN",
    "improved_gan": "zoo.improved_gan:ImprovedGAN",
    "cgan": "zoo.cgan:CGAN",
    "acgan": "zoo.acgan:ACGAN",
    "infogan": "zoo.infogan:InfoGAN",
    "sngan": "zoo.sngan:SNGAN",
    "sngan_projection": "zoo.sngan_projection:SNGANProjection",
    "sagan": "zoo.sagan:SAGAN",
    "biggan": "zoo.biggan:BigGAN",
    "biggan_deep": "zoo.biggan_deep:BigGANDeep",
    "pggan": "zoo.pggan:PGGAN",
    "stylegan": "zoo.stylegan:StyleGAN",
    "stylegan2": "zoo.stylegan2:StyleGAN2",
    "cyclegan": "zoo.cyclegan:CycleGAN",
    "stargan": "zoo.stargan:StarGAN",
    "triplegan": "zoo.triplegan:TripleGAN",
    "lapgan": "zoo.lapgan:LAPGAN",
    "cocogan": "zoo.cocogan:COCOGAN",
    "gan_t2i": "zoo.gan_t2i:GANT2I",
    "msgan": "zoo.msgan:MSGAN",
    "stackgan": "zoo.stackgan:StackGAN",
    "stackgan2": "zoo.stackgan2:StackGAN2",
}

#: short name -> the one-line summary ``python cli.py models`` prints (the class docstrings say the rest)
SUMMARIES = {
    "gan": "Goodfellow 2014: MLP generator and maxout discriminator, minimax or non-saturating loss.",
    "dcgan": "Radford 2015: all-convolutional G/D with BatchNorm, ReLU/tanh G, LeakyReLU D.",
    "lsgan": "Mao 2017: least-squares losses with a-b-c coding, 0-1-1 by default (Eq. 9), -1-1-0 (Eq. 8) by args.",
    "wgan": "Arjovsky 2017: a critic with weights clipped to [-c, c], RMSprop 5e-5, 5 critic steps (Algorithm 1).",
    "wgan_gp": "Gulrajani 2017: the Wasserstein critic with a gradient penalty on interpolates instead of clipping.",
    "dragan": "Kodali 2017: the non-saturating GAN game with a gradient penalty around perturbed real data.",
    "fgan": "Nowozin 2016: variational divergence minimization for the nine f-divergences of Tables 1 and 2.",
    "relativistic": "Jolicoeur-Martineau 2018: D estimates how much more realistic real data is than fake data.",
    "ebgan": "Zhao 2017: an autoencoder D whose reconstruction error is an energy, margin loss, pulling-away term.",
    "began": "Berthelot 2017: an autoencoder D, losses on its L1 reconstruction error, proportional control k_t.",
    "improved_gan": "Salimans 2016: feature matching, minibatch discrimination, historical averaging, VBN.",
    "cgan": "Mirza 2014: G and D both see the class y (one-hot); the GAN game conditioned on y.",
    "acgan": "Odena 2017: G(c, z) draws class c; D sees only the image, with a real/fake head and a class head.",
    "infogan": "Chen 2016: latent codes c beside the noise z, kept recoverable from G(z, c) by a Q head on D.",
    "sngan": "Miyato 2018: spectral norm on every D weight, hinge loss, 5 D steps; ResNet or standard CNN nets.",
    "sngan_projection": "Miyato & Koyama 2018: the class enters D by projection and G by class-conditional BN.",
    "sagan": "Zhang 2019: self-attention in G and D, spectral norm in both, TTUR (G 1e-4, D 4e-4), hinge loss.",
    "biggan": "Brock 2019: SAGAN scaled up, shared class embedding, hierarchical z, orthogonal regularization.",
    "biggan_deep": "Brock 2019 App. B: BigGAN with bottleneck blocks, two per resolution, all of z in every BN.",
    "pggan": "Karras 2018: G and D grown from 4x4 to the full resolution with faded-in blocks.",
    "stylegan": "Karras 2019: mapping network, AdaIN styles, per-layer noise, style mixing, R1, grown progressively.",
    "stylegan2": "Karras 2020: modulated convolutions, skip G, residual D, lazy R1 and path length regularization.",
    "cyclegan": "Zhu 2017: translators A->B and B->A, 70x70 PatchGANs, least squares, cycle and identity losses.",
    "stargan": "Choi 2018: one translator G(x, c) for every target domain, PatchGAN critic with a domain classifier.",
    "triplegan": "Li 2017: a classifier C beside G and D on (x, y) pairs, semi-supervised (--data.labelled 100).",
    "lapgan": "Denton 2015: a Laplacian pyramid of class-conditional GANs, each level drawing the band-pass image.",
    "cocogan": "Lin 2019: G draws micro patches at coordinates, D judges macro patches and regresses their position.",
    "gan_t2i": "Reed 2016: text-to-image DCGAN with a matching-aware D (GAN-CLS) and interpolated texts (GAN-INT).",
    "msgan": "Mao 2019: a conditional DCGAN whose G also maximizes image over latent distance (mode seeking).",
    "stackgan": "Zhang 2017: text -> conditioning augmentation -> 64 px stage I -> 256 px stage II, trained in turn.",
    "stackgan2": "Zhang 2018 (StackGAN++): a tree G with GLU blocks at 64/128/256 px, one D per scale, G EMA.",
}


def get_model(name: str) -> type:
    """The GANModule class registered as ``name``; an unknown name lists the valid ones."""
    return resolve(MODELS, name, "model", hint=" (see: python cli.py models)")


def model_name(cls: type) -> str | None:
    return name_of(MODELS, cls)


def summary(cls: type) -> str:
    """The one-line description of ``cls``: its entry's in ``SUMMARIES`` (what ``cli.py models`` shows), or the
    first line of its docstring for a class outside the zoo."""
    for name, target in MODELS.items():
        if target == f"{cls.__module__}:{cls.__name__}":
            return SUMMARIES[name]
    return ((cls.__doc__ or "").strip().splitlines() or [""])[0]

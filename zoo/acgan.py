"""ACGAN (Odena, Olah and Shlens 2017, "Conditional Image Synthesis with Auxiliary Classifier GANs",
arXiv 1610.09585)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from zoo.base import GANModule
from zoo.errors import ZooError
from zoo.nets.acgan import ARCHITECTURES, AUTO, ACGANDiscriminator, acgan_generator
from zoo.nets.conditional import AuxiliaryHeadDiscriminator, LabelConcatGenerator
from zoo.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from zoo.nn import dcgan_init


def class_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """-E[log P(C = c | X)]: the negated class term of L_C (Odena et al. 2017, Eq. 2), in float32."""
    return F.cross_entropy(logits.float(), labels)


class ACGAN(GANModule):
    """Odena 2017: G(c, z) draws class c; D sees only the image and has two heads, the source (real/fake) and the
    class (K logits).

    With L_S = E[log P(S=real | X_real)] + E[log P(S=fake | X_fake)] (Eq. 1) and L_C = E[log P(C=c | X_real)] +
    E[log P(C=c | X_fake)] (Eq. 2), D maximizes L_S + L_C and G maximizes L_C - L_S. The source term goes through
    the entry's objective: with the default non_saturating one D minimizes -L_S and G minimizes -log D(G(z)) in
    place of log(1 - D(G(z))), as the Keras reference example does (keras-team/keras examples/mnist_acgan.py
    trains G towards D's "real" target). D's class accuracy on the real batch is logged as
    ``acgan/real_accuracy``.

    Networks (``architecture``, the one-hot class concatenated to z in G: the paper's 110-dim input = 100 noise +
    10 classes): ``auto`` (default) picks the appendix's by image size (zoo/nets/acgan.py): ``imagenet`` at 128 px,
    the appendix's ImageNet table layer by layer (Linear 768 maps at 8 x 8 with ReLU, 5x5 stride-2 transposed convs
    to 384, 256, 192 and the image, biases everywhere; D six 3x3 convs, 16 to 512 maps, "same" padding; G
    16,531,971 / D 3,016,555 parameters with 10 classes), and ``cifar10`` at 32 px as kimhc6028/acgan-pytorch's
    network.py builds it (G 1,593,888 / D 1,663,867; the paper publishes no CIFAR-10 networks). DCGAN's (Radford
    et al. 2015) at other sizes (``dcgan``: the class head a linear layer on D's last hidden layer; ``ngf``/``ndf``
    apply to these only). ``imagenet_kimhc``: kimhc6028's 128 px reading of the ImageNet table (11,465,728 /
    2,525,563), kept as an option.
    """

    conditional = True

    def __init__(
        self,
        resolution: int = 64,
        channels: int = 3,
        num_classes: int = 10,
        architecture: str = "auto",
        ngf: int = 64,
        ndf: int = 64,
        **kwargs,
    ):
        """
        Args:
            resolution: image size, linked from the datamodule (a power of two >= 8).
            channels: image channels, linked from the datamodule.
            num_classes: number of classes, linked from the datamodule.
            architecture: auto, cifar10 (32 px), imagenet or imagenet_kimhc (128 px) or dcgan (any power of two >= 8).
            ngf: generator width.
            ndf: discriminator width.
        """
        if num_classes is None:
            raise ZooError("acgan is class-conditional: train it on labelled data (--data mnist, cifar10, digits ...)")
        choices = ("auto", *ARCHITECTURES, "dcgan")
        if architecture not in choices:
            raise ZooError(f"unknown ACGAN architecture '{architecture}'; choose one of: {', '.join(choices)}")
        architecture = AUTO.get(resolution, "dcgan") if architecture == "auto" else architecture
        if architecture != "dcgan" and ARCHITECTURES[architecture].resolution != resolution:
            raise ZooError(
                f"ACGAN's {architecture} networks are {ARCHITECTURES[architecture].resolution} px, not {resolution}: "
                "set --data.resolution, or --model.architecture dcgan"
            )
        super().__init__(num_classes=num_classes, **kwargs)
        self.architecture = architecture
        if architecture != "dcgan":
            arch = ARCHITECTURES[architecture]
            self.generator = acgan_generator(self.latent_dim, num_classes, channels, arch)
            self.discriminator = ACGANDiscriminator(channels, num_classes, arch)
            return
        g_net = DCGANGenerator(self.latent_dim + num_classes, resolution, channels, ngf)
        dcgan_init(g_net)
        self.generator = LabelConcatGenerator(g_net, num_classes)
        self.discriminator = AuxiliaryHeadDiscriminator(DCGANDiscriminator(resolution, channels, ndf), num_classes)
        dcgan_init(self.discriminator)

    def discriminate(self, x: Tensor, y: Tensor | None) -> Tensor:
        """The source logits alone (what penalties see); the class head is read by the losses."""
        return self.discriminator(x)[0]

    def discriminator_loss(self, real, y_real, fake, y_fake):
        real_source, real_classes = self.discriminator(real)
        fake_source, fake_classes = self.discriminator(fake)
        source = self.objective.d_loss(real_source, fake_source)
        classes = class_loss(real_classes, y_real) + class_loss(fake_classes, y_fake)
        loss = source + classes
        logs = {
            "loss/d": loss,
            "d/real": real_source.mean(),
            "d/fake": fake_source.mean(),
            "acgan/d_class": classes,
            "acgan/real_accuracy": (real_classes.argmax(1) == y_real).float().mean(),
        }
        return loss, logs

    def generator_loss(self, fake, y_fake, real, y_real):
        fake_source, fake_classes = self.discriminator(fake)
        real_source = self.discriminate(real, y_real) if self.objective.g_needs_real else None
        classes = class_loss(fake_classes, y_fake)
        loss = self.objective.g_loss(fake_source, real_source) + classes
        return loss, {"loss/g": loss, "acgan/g_class": classes}

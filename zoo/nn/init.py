"""Weight initializers named after the paper that prescribes them."""

from torch import nn

_CONV_OR_LINEAR = (nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d, nn.Linear)
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)


def normal_init(module: nn.Module, std: float, norm_scale_std: float = 0.0) -> None:
    """Weights from N(0, std) and every bias 0; batch-norm scales from N(1, norm_scale_std), shifts 0."""
    for m in module.modules():
        if isinstance(m, _CONV_OR_LINEAR):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, _NORMS) and m.affine:
            nn.init.normal_(m.weight, 1.0, norm_scale_std)
            nn.init.zeros_(m.bias)


def dcgan_init(module: nn.Module, std: float = 0.02) -> None:
    """DCGAN initialization (Radford et al. 2015, Sec. 4): weights from N(0, 0.02); batch-norm scales
    from N(1, 0.02) and every bias 0, as in the reference PyTorch implementation."""
    normal_init(module, std, norm_scale_std=std)


def pacgan_init(module: nn.Module) -> None:
    """PacGAN's toy networks (Lin et al. 2018, App. C; its code's ``weights_init_std``): weights from
    N(0, 0.02), biases 0, batch-norm scales 1 and shifts 0."""
    normal_init(module, 0.02)

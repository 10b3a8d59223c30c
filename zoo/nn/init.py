"""Weight initializers named after the paper that prescribes them."""

from torch import nn

_CONV_OR_LINEAR = (nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d, nn.Linear)
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)


def dcgan_init(module: nn.Module, std: float = 0.02) -> None:
    """DCGAN initialization (Radford et al. 2015, Sec. 4): weights from N(0, 0.02); batch-norm scales
    from N(1, 0.02) and every bias 0, as in the reference PyTorch implementation."""
    for m in module.modules():
        if isinstance(m, _CONV_OR_LINEAR):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, _NORMS) and m.affine:
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)

"""f-GAN (Nowozin, Cseke and Tomioka 2016, "f-GAN: Training Generative Neural Samplers using Variational
Divergence Minimization", arXiv 1606.00709)."""

from __future__ import annotations

from zoo.errors import ZooError
from zoo.standard import StandardGAN


class FGAN(StandardGAN):
    """Nowozin 2016: variational divergence minimization for any f-divergence of Tables 1 and 2 (Eq. 6).

    ``--model.divergence`` picks one of: total_variation, kl, reverse_kl, pearson, neyman, squared_hellinger,
    jeffrey, jensen_shannon, gan, each with its output activation g_f and conjugate f* (zoo/objectives.py).
    The generator maximizes E[g_f(V(G(z)))], the paper's Sec. 3.2 alternative to minimizing the bound.
    """

    def __init__(self, divergence: str = "kl", objective: str = "fgan", objective_args: dict | None = None, **kwargs):
        """
        Args:
            divergence: the f-divergence to minimize (Table 1 of the paper).
        """
        if objective != "fgan" or objective_args:
            raise ZooError(
                "the fgan entry's objective is set by --model.divergence; use another entry for other losses"
            )
        super().__init__(objective=objective, objective_args={"divergence": divergence}, **kwargs)

"""LSGAN (Mao et al. 2017, "Least Squares Generative Adversarial Networks", arXiv 1611.04076)."""

from __future__ import annotations

from zoo.standard import StandardGAN


class LSGAN(StandardGAN):
    """Mao 2017: least-squares losses with a-b-c coding (Eq. 2); 0-1-1 by default (Eq. 9), -1-1-0 (Eq. 8) by args.

    ``--model.objective_args '{a: -1, b: 1, c: 0}'`` selects the coding of Eq. 8, which minimizes the Pearson
    chi-square divergence (Sec. 3.2.2). Adam lr 2e-4, beta1 0.5 as in the paper's experiments (Sec. 4.1).
    """

    def __init__(self, objective: str = "least_squares", objective_args: dict | None = None, **kwargs):
        super().__init__(objective=objective, objective_args=objective_args or {"a": 0.0, "b": 1.0, "c": 1.0}, **kwargs)

"""Reusable layers and initializers shared by the zoo's networks."""

from zoo.nn.init import dcgan_init, normal_init, pacgan_init
from zoo.nn.maxout import Maxout

__all__ = ["Maxout", "dcgan_init", "normal_init", "pacgan_init"]

"""Reusable generator and discriminator architectures."""

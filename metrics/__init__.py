"""Sample-quality and mode-coverage metrics, one module per family, imported where used (so that
``import metrics.mode_coverage`` stays light: no Lightning, no datasets).

Image metrics computed the clean-fid way: resize.py (uint8 quantization, PIL-exact bicubic resize to 299 on
the device), inception.py (the TorchScript Inception, where its weights are found, custom extractors),
features.py (generated and real features, streamed, seeded per sample, sharded over DDP ranks, real ones
cached), scores.py (FID, KID, IS, precision/recall on features) and image_metrics.py (``ImageMetrics``, the
one protocol of ``cli.py evaluate`` in evaluate.py and of the PeriodicFID callback).
"""

"""Checkpoint formats: each entry versions what its saved weights mean, so an old checkpoint never changes meaning
silently.

Every entry has a ``checkpoint_format`` (``GANModule.checkpoint_format``, 1 unless the entry raised it), written
into each checkpoint the zoo saves under ``FORMAT_KEY``. An entry raises its format whenever a change alters what
saved weights mean or how they load (a renamed buffer, another output nonlinearity, a new hyperparameter whose
default differs from the old behaviour), and ships with the bump, in its ``migrate_checkpoint``, either an exact
conversion from the previous format or one ZooError that names what changed and the fix. Every reader of zoo
checkpoints (callbacks/checkpoint_io.py ``read_checkpoint``: resume with ``--ckpt_path``, ``sample``, ``evaluate``,
stage-I loads) passes what it read through ``upgrade``; a file from a newer zoo is refused.
"""

from __future__ import annotations

import os
import warnings

from zoo.errors import ZooError

#: the checkpoint entry holding the format its entry wrote (beside ``zoo_model``)
FORMAT_KEY = "zoo_checkpoint_format"


class CheckpointConverted(UserWarning):
    """An older checkpoint was converted as it was read."""


#: the conversions said so far in this process: each is said once, though a resume reads its file three times
#: (cli.py, the CLI's resume of the hyperparameters, the Trainer), with warning filters changed in between
_said: set[str] = set()


def stored_format(checkpoint: dict, model_cls: type) -> int:
    """The format a checkpoint was written in; one written before the zoo stored formats is the entry's
    ``unversioned_format`` (1, unless the entry tells its later formats apart by their content)."""
    found = checkpoint.get(FORMAT_KEY)
    return model_cls.unversioned_format(checkpoint) if found is None else int(found)


def upgrade(checkpoint: dict, source: str | os.PathLike, generator_only: bool = False) -> dict:
    """Brings a zoo checkpoint, in place, to its entry's current format, one format at a time through the entry's
    ``migrate_checkpoint``, and says what was converted in one warning naming ``source`` (``CheckpointConverted``,
    once per process). ``generator_only``: the caller uses the generators alone (sampling, evaluation), so an entry
    may convert those where its discriminator has no exact conversion. A checkpoint of a format newer than this
    zoo's, or one whose conversion is refused, raises a ZooError. Files without a ``zoo_model`` of this zoo pass
    unchanged (their loaders name what is wrong with them)."""
    from zoo import MODELS, get_model

    name = checkpoint.get("zoo_model")
    if name not in MODELS:
        return checkpoint
    model_cls = get_model(name)
    found, current = stored_format(checkpoint, model_cls), model_cls.checkpoint_format
    if found > current:
        raise ZooError(
            f"{source} is a format-{found} {name} checkpoint, written by a newer GAN Zoo than this one (which reads "
            f"{name} formats up to {current}): update GAN Zoo (git pull) to load it"
        )
    if found < current:
        notes = [model_cls.migrate_checkpoint(checkpoint, old, source, generator_only) for old in range(found, current)]
        checkpoint[FORMAT_KEY] = current
        notes = [note for note in notes if note]  # "": that step changed nothing in this file
        converted = f"{source}: format-{found} {name} checkpoint converted to format {current}: {'; '.join(notes)}"
        if notes and converted not in _said:
            _said.add(converted)
            warnings.warn(converted, CheckpointConverted)
    return checkpoint

"""An interrupted run resumes exactly: N iterations straight == N/2 + resume + N/2, bit for bit."""

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint

from callbacks import read_checkpoint
from tests.helpers import make_trainer, tiny_dcgan, tiny_digits


def train(iterations: int, ckpt_dir=None, resume_from=None):
    pl.seed_everything(0)
    model = tiny_dcgan()
    callbacks = [ModelCheckpoint(dirpath=ckpt_dir, save_last=True, save_top_k=0)] if ckpt_dir else []
    trainer = make_trainer(iterations, callbacks=callbacks, enable_checkpointing=bool(ckpt_dir))
    trainer.fit(model, tiny_digits(), ckpt_path=resume_from)
    return model, trainer


def test_resume_mid_epoch_gives_identical_weights(tmp_path):
    # digits at batch 32: 56 batches per epoch, so iteration 40 is mid-epoch and 80 is in epoch 2
    straight, _ = train(80)
    half, _ = train(40, ckpt_dir=tmp_path)
    progress = read_checkpoint(tmp_path / "last.ckpt")["loops"]["fit_loop"]["epoch_loop.batch_progress"]
    assert progress["current"]["completed"] == 40 and progress["total"]["completed"] == 40  # mid-epoch
    resumed, _ = train(80, resume_from=tmp_path / "last.ckpt")

    assert resumed.iterations == straight.iterations == 80
    assert resumed.images_seen == straight.images_seen == 80 * 32
    for (name, a), (_, b) in zip(straight.state_dict().items(), resumed.state_dict().items()):
        if isinstance(a, torch.Tensor):
            assert torch.equal(a, b), name
    assert not torch.equal(half.generator.net[0].weight, straight.generator.net[0].weight)

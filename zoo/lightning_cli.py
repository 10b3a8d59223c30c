"""The LightningCLI behind ``python cli.py fit``: the zoo's callbacks as option groups, data->model
links, a run folder per run, W&B by default, atomic checkpoints, and a DDP strategy that suits
alternating D/G updates. Imported only when a Lightning subcommand runs (it imports Lightning)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from pytorch_lightning.cli import LightningCLI

from zoo.registry import init_parameters


def needs_ddp(devices, num_nodes: int, accelerator: str) -> bool:
    """True when the trainer will run more than one process."""
    if num_nodes and int(num_nodes) > 1:
        return True
    if isinstance(devices, (list, tuple)):
        return len(devices) > 1
    if isinstance(devices, str) and "," in devices:
        return len([d for d in devices.split(",") if d.strip()]) > 1
    if devices in ("auto", -1, "-1"):
        import torch

        return accelerator in ("auto", "gpu", "cuda") and torch.cuda.device_count() > 1
    return int(devices) > 1


def wandb_logged_in() -> bool:
    """An API key in the environment or in the netrc entry of the W&B host."""
    import netrc
    from urllib.parse import urlparse

    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname
    try:
        return netrc.netrc(os.environ.get("NETRC")).authenticators(host) is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


def make_run_dir(run_name: str) -> Path:
    """``runs/<model>-<data>/<timestamp>``; DDP worker processes reuse the folder of rank 0."""
    if os.environ.get("LOCAL_RANK", "0") != "0" and os.environ.get("GAN_ZOO_RUN_DIR"):
        return Path(os.environ["GAN_ZOO_RUN_DIR"])
    base = Path("runs") / run_name / time.strftime("%Y%m%d-%H%M%S")
    run_dir, i = base, 1
    while run_dir.exists():
        run_dir, i = Path(f"{base}-{i}"), i + 1
    os.environ["GAN_ZOO_RUN_DIR"] = str(run_dir)
    return run_dir


class ZooCLI(LightningCLI):
    """LightningCLI with the zoo's callbacks as option groups, data->model links, a run folder per run,
    W&B logging by default, atomic checkpoints and a DDP strategy that suits alternating updates."""

    def __init__(self, model_cls: type, data_cls: type, run_name: str, **kwargs):
        self.run_name = run_name
        self.run_dir: Path | None = None
        super().__init__(model_cls, data_cls, **kwargs)

    def add_arguments_to_parser(self, parser) -> None:
        from callbacks import EMA, NonFiniteGuard, PeriodicFID, ProgressiveGrowing, SampleGrid, ZooCheckpoint

        parser.add_argument(
            "--run_dir", type=str | None, default=None, help="run folder (default: runs/<model>-<data>/<time>)"
        )
        # EMA first: callbacks run in this order, so grids see the average updated for the same iteration
        parser.add_lightning_class_args(EMA, "ema")  # off unless --ema.half_life_kimg or --ema.decay
        parser.add_lightning_class_args(ProgressiveGrowing, "progressive")  # acts on growing models only
        parser.add_lightning_class_args(SampleGrid, "samples")
        parser.add_lightning_class_args(PeriodicFID, "fid")  # off unless --fid.enabled or --fid.every_n_kimg
        parser.add_lightning_class_args(NonFiniteGuard, "nonfinite")
        parser.add_lightning_class_args(ZooCheckpoint, "checkpoint")
        parser.set_defaults(
            {
                "checkpoint.save_last": True,
                "checkpoint.save_top_k": -1,
                "checkpoint.every_n_train_steps": 5000,
                "checkpoint.filename": "{step:08d}",
                "checkpoint.auto_insert_metric_name": False,
                "checkpoint.enable_version_counter": False,  # resuming overwrites last.ckpt
            }
        )
        model_params = init_parameters(self.model_class)
        links = ["resolution", "channels", "sample_shape", "domains"]
        if getattr(self.model_class, "conditional", False):
            links.append("num_classes")
        for name in links:
            if name in model_params and hasattr(self.datamodule_class, name):
                parser.link_arguments(f"data.{name}", f"model.{name}", apply_on="instantiate")

    def before_instantiate_classes(self) -> None:
        config = self.config[self.subcommand] if self.subcommand else self.config
        ckpt_path = config.get("ckpt_path")
        if config.run_dir:
            self.run_dir = Path(config.run_dir)
        elif ckpt_path and Path(ckpt_path).parent.name == "checkpoints":
            self.run_dir = Path(ckpt_path).parent.parent  # resuming: keep writing into the same run folder
            os.environ["GAN_ZOO_RUN_DIR"] = str(self.run_dir)
        else:
            self.run_dir = make_run_dir(self.run_name)
        trainer = config.trainer
        trainer.default_root_dir = str(self.run_dir)
        if config.checkpoint.dirpath is None:
            config.checkpoint.dirpath = str(self.run_dir / "checkpoints")
        if trainer.strategy == "auto" and needs_ddp(trainer.devices, trainer.num_nodes, trainer.accelerator):
            # D-only and G-only backward passes leave half the parameters without gradients
            trainer.strategy = "ddp_find_unused_parameters_true"

    def instantiate_trainer(self, **kwargs):
        from callbacks import AtomicCheckpointIO

        self.datamodule.validate()  # a missing dataset fails here, before a run folder or W&B run exists
        trainer_config = self._get(self.config_init, "trainer", default={})
        if trainer_config.get("logger") in (None, True):
            kwargs["logger"] = self.make_wandb_logger()
        plugins = trainer_config.get("plugins") or []
        plugins = list(plugins) if isinstance(plugins, (list, tuple)) else [plugins]
        kwargs["plugins"] = [*plugins, AtomicCheckpointIO()]
        return super().instantiate_trainer(**kwargs)

    def make_wandb_logger(self):
        from pytorch_lightning.loggers import WandbLogger

        if os.environ.get("WANDB_MODE") == "":
            del os.environ["WANDB_MODE"]  # wandb rejects an empty mode; empty means "not set"
        mode = os.environ.get("WANDB_MODE")
        offline = mode in ("offline", "dryrun") or (mode is None and not wandb_logged_in())
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if offline and os.environ.get("LOCAL_RANK", "0") == "0":
            print(
                f"W&B: not logged in, logging offline into {self.run_dir}/wandb. Upload later with "
                f"`wandb sync {self.run_dir}/wandb/offline-run-*`, or run `wandb login` first.",
                file=sys.stderr,
            )
        return WandbLogger(
            project=os.environ.get("WANDB_PROJECT", "gan-zoo"),
            name=f"{self.run_name}/{self.run_dir.name}",
            save_dir=str(self.run_dir),
            offline=offline,
        )

"""The LightningCLI behind ``python cli.py fit``: the zoo's callbacks as option groups, data->model
links, a run folder per run with every logger inside it (W&B by default), atomic checkpoints, and a DDP
strategy that suits alternating D/G updates. Imported only when a Lightning subcommand runs (it imports Lightning)."""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import string
import sys
import time
from pathlib import Path

import torch
from pytorch_lightning.cli import LightningCLI

from zoo.argument_parser import ZooArgumentParser
from zoo.errors import ZooError, plain_warning
from zoo.registry import init_parameters
from zoo.run_loggers import (
    LOGGER_CHOICES,
    RunFolderConfig,
    check_logger_choice,
    folder_logger,
    place_in_run_folder,
    save_dir_args,
    saved_logger_choice,
)
from zoo.trainer import ZooTrainer


def device_count(devices, num_nodes: int, accelerator: str) -> int:
    """The number of processes the trainer will run (devices per node times nodes)."""
    nodes = int(num_nodes) if num_nodes else 1
    if isinstance(devices, (list, tuple)):
        return nodes * len(devices)
    if isinstance(devices, str) and "," in devices:
        return nodes * len([d for d in devices.split(",") if d.strip()])
    if devices in ("auto", -1, "-1"):
        import torch

        gpus = torch.cuda.device_count() if accelerator in ("auto", "gpu", "cuda") else 0
        return nodes * max(gpus, 1)
    try:
        return nodes * int(devices)
    except ValueError:
        raise ZooError(f"invalid value '{devices}' for --trainer.devices; give a count, a list 0,1 or auto") from None


def needs_ddp(devices, num_nodes: int, accelerator: str) -> bool:
    """True when the trainer will run more than one process."""
    return device_count(devices, num_nodes, accelerator) > 1


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


def create_run_dir(run_dir: Path, fix: str) -> list[Path]:
    """Creates the run folder before anything is written into it and returns the folders this created,
    innermost first; a folder that cannot be created is one ZooError naming it and ``fix``."""
    created = [folder for folder in (run_dir, *run_dir.parents) if not folder.exists()]
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        blocker = next(folder for folder in (run_dir, *run_dir.parents) if folder.exists())
        reason = f"{blocker} is a file, not a folder" if not blocker.is_dir() else err.strerror
        raise ZooError(f"cannot create the run folder {run_dir}: {reason}; {fix}") from None
    return created


class LightningChatter(logging.Filter):
    """Drops the info lines Lightning logs itself at start-up and end (accelerator lines, the litlogger tip, "Seed
    set to", "`Trainer.fit` stopped"); warnings, errors and the info lines of the zoo's own callbacks pass."""

    def __init__(self):
        super().__init__()
        import lightning_fabric
        import lightning_utilities
        import pytorch_lightning

        self.folders = tuple(
            str(Path(pkg.__file__).resolve().parent) + os.sep
            for pkg in (pytorch_lightning, lightning_fabric, lightning_utilities)
        )

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return True
        return not str(Path(record.pathname).resolve()).startswith(self.folders)


def quiet_lightning() -> None:
    """A quiet start: no Lightning info lines, no "checkpoint directory exists and is not empty" on a resume
    into the run folder, and warnings as one ``warning: ...`` line. ``cli.py fit --verbose`` skips this."""
    import warnings

    chatter = LightningChatter()
    for name in ("pytorch_lightning", "lightning_fabric", ""):  # "": the root logger, if Lightning propagates to it
        for handler in logging.getLogger(name).handlers:
            handler.addFilter(chatter)
    warnings.filterwarnings("ignore", message=r".*Checkpoint directory .* exists and is not empty")
    warnings.formatwarning = plain_warning  # after Lightning's import, which sets its own


def parameter_line(model, run_dir: Path | None) -> str:
    """One line with the run folder and G's and D's parameter counts, e.g. ``run folder: runs/dcgan-digits/<time>;
    DCGAN: 135,937 G / 34,433 D parameters``."""
    from torch.nn.parameter import is_lazy

    def count(net) -> int:
        return sum(p.numel() for p in net.parameters() if not is_lazy(p)) if net is not None else 0

    g, d = count(getattr(model, "generator", None)), count(getattr(model, "discriminator", None))
    return f"run folder: {run_dir}; {type(model).__name__}: {g:,} G / {d:,} D parameters"


def finish_wandb_run(exit_code: int) -> None:
    """Ends this process's W&B run, if one was started: with its run's settings (quiet offline: no closing "wandb
    sync" lines, which wandb's exit hook would print regardless), and so that a failed run's files can be removed."""
    wandb = sys.modules.get("wandb")
    if wandb is not None and wandb.run is not None:
        wandb.finish(exit_code=exit_code)


def short_names(model_cls: type, data_cls: type) -> tuple[str, str]:
    """The --model and --data values that choose these classes: the registry names, else the class paths."""
    import zoo
    from datamodules import data_name

    model = zoo.model_name(model_cls) or f"{model_cls.__module__}.{model_cls.__qualname__}"
    data = data_name(data_cls) or f"{data_cls.__module__}.{data_cls.__qualname__}"
    return model, data


def help_command(subcommand: str, model_cls: type, data_cls: type) -> str:
    """The command that lists every option of this model and data, e.g. ``python cli.py fit --model dcgan
    --data digits --help full``."""
    model, data = short_names(model_cls, data_cls)
    return f"python cli.py {subcommand} --model {model} --data {data} --help full"


def wandb_run_id(run_dir: Path) -> str:
    """The W&B run id of a run folder, kept in ``<run>/wandb-run-id`` so that every resume into the folder logs
    to the same W&B run (online, or offline and uploaded together by ``wandb sync --id``)."""
    path = run_dir / "wandb-run-id"
    if path.is_file():
        return path.read_text().strip()
    run_id = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(8))  # W&B's id form
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(run_id + "\n")
    os.replace(tmp, path)
    return run_id


class ZooCLI(LightningCLI):
    """LightningCLI with the zoo's callbacks as option groups, data->model links, a run folder per run,
    W&B logging by default (``--logger``), atomic checkpoints and a DDP strategy that suits alternating updates."""

    def __init__(self, model_cls: type, data_cls: type, run_name: str, verbose: bool = False, **kwargs):
        self.run_name = run_name
        self.verbose = verbose  # Lightning's own output (info lines, model summary) as Lightning prints it
        if not verbose:
            quiet_lightning()
        self.run_dir: Path | None = None
        self.created_dirs: list[Path] = []  # the run folder and its parents, where this process created them
        args = kwargs.get("args") or []
        self.argv = list(args)  # the flags given now: on resume they win where they can (zoo/resume.py)
        self.resumed_hparams: dict | None = None  # the model's hyperparameters in the --ckpt_path checkpoint
        self.subcommand_given = args[0] if args and args[0] in self.subcommands() else "fit"
        self.help_command = help_command(self.subcommand_given, model_cls, data_cls)
        kwargs.setdefault("parser_class", ZooArgumentParser)
        if kwargs.get("args") is not None:
            kwargs["args"] = save_dir_args(args)  # --trainer.logger CSVLogger without save_dir: the run folder
        kwargs.setdefault("save_config_callback", RunFolderConfig)  # config.yaml in the run folder, any logger
        kwargs["save_config_kwargs"] = {**kwargs.get("save_config_kwargs", {}), "save_to_log_dir": False}
        kwargs.setdefault("trainer_class", ZooTrainer)  # --trainer.max_kimg and the whole-run progress bar
        # CPU arithmetic on denormal floats is 10-100x slower, and a GAN's small weights and gradients drift into
        # that range within a few hundred steps: --preset smoke's PGGAN ran 600 steps in 15 s with this, and had not
        # finished after 300 s without it, with the same losses. GPUs are not affected by this setting.
        torch.set_flush_denormal(True)
        try:
            super().__init__(model_cls, data_cls, **kwargs)
        except BaseException:
            self.remove_unstarted_run()
            raise

    def init_parser(self, **kwargs) -> ZooArgumentParser:
        parser = super().init_parser(**kwargs)
        parser.help_command = self.help_command
        return parser

    def parse_arguments(self, parser, args) -> None:
        """``--help`` prints the common options and ``--help GROUP`` one group's (zoo/help_summary.py); ``--help
        full`` is jsonargparse's help of every option."""
        from zoo.help_summary import FULL, help_text, requested_help

        asked = requested_help(args) if isinstance(args, list) else None
        if asked and asked[1] != FULL:
            sub = self.subcommand_given
            names = short_names(self.model_class, self.datamodule_class)
            print(help_text(asked[1], self._subcommand_parsers[sub], sub, self.model_class, *names), end="")
            raise SystemExit(0)
        if asked:
            args = args[: asked[0] + 1] + args[asked[0] + 2 :]  # without "full": jsonargparse's own --help
        super().parse_arguments(parser, args)

    def remove_unstarted_run(self) -> None:
        """Removes the run folder, with the W&B run and config in it, when this process created it and the run
        failed before its first optimizer step: a refused run leaves nothing behind. A folder that existed
        before (a resumed run, an existing --run_dir) or that holds a checkpoint is never touched."""
        trainer = getattr(self, "trainer", None)
        if not self.created_dirs or (trainer is not None and trainer.global_step > 0):
            return
        if any(self.run_dir.rglob("*.ckpt")):
            return
        finish_wandb_run(exit_code=1)
        shutil.rmtree(self.run_dir, ignore_errors=True)  # the run's own error is what the user needs to see
        for parent in self.created_dirs[1:]:
            try:
                parent.rmdir()
            except OSError:  # not empty: another run's folder is in it
                break

    def _parse_ckpt_path(self) -> None:
        """Resume: the checkpoint's hyperparameters fill what was not given now (LightningCLI's own version lets
        them override explicit flags silently); given values apply or are refused (zoo/resume.py)."""
        from callbacks import read_checkpoint
        from zoo.resume import flags_given, merge_for_resume, stored_hparams

        subcommand = self.config.get("subcommand")
        ckpt_path = self.config[subcommand].get("ckpt_path") if subcommand else None
        if not ckpt_path:
            return
        self.resumed_hparams = stored = stored_hparams(read_checkpoint(ckpt_path))
        config, defaults = self.config[subcommand], self._subcommand_parsers[subcommand].get_defaults()
        linked = {k: v for k, v in stored.items() if k in self.linked_names}
        merge_for_resume(config.data, defaults.data, linked, flags_given(self.argv, "data"), group="data")
        overridable = self.model_class.resume_overridable
        notes = merge_for_resume(config.model, defaults.model, stored, flags_given(self.argv, "model"), overridable)
        if notes:
            print(f"resuming {ckpt_path} with {'; '.join(notes)}", file=sys.stderr)

    def add_arguments_to_parser(self, parser) -> None:
        from callbacks import (
            EMA,
            NonFiniteGuard,
            PeriodicFID,
            ProgressiveGrowing,
            SampleGrid,
            WandbModelArtifact,
            ZooCheckpoint,
        )

        parser.add_argument(
            "--run_dir", type=str | None, default=None, help="run folder (default: runs/<model>-<data>/<time>)"
        )
        parser.add_argument(
            "--logger", type=str, default="wandb", help=f"{'|'.join(LOGGER_CHOICES)}, writing into the run folder"
        )
        # EMA first: callbacks run in this order, so grids see the average updated for the same iteration
        parser.add_lightning_class_args(EMA, "ema")  # off unless --ema.half_life_kimg or --ema.decay
        parser.add_lightning_class_args(ProgressiveGrowing, "progressive")  # acts on growing models only
        parser.add_lightning_class_args(SampleGrid, "samples")
        parser.add_lightning_class_args(PeriodicFID, "fid")  # off unless --fid.enabled or --fid.every_n_kimg
        parser.add_lightning_class_args(NonFiniteGuard, "nonfinite")
        parser.add_lightning_class_args(ZooCheckpoint, "checkpoint")
        parser.add_lightning_class_args(WandbModelArtifact, "wandb")
        parser.set_defaults(
            {
                "checkpoint.save_last": True,
                "checkpoint.save_top_k": -1,
                "checkpoint.every_n_kimg": 200.0,  # NVlabs' snapshots: 50 ticks x 4 kimg (stylegan2-ada-pytorch)
                "checkpoint.keep_last": 5,
                "checkpoint.filename": "{step:08d}",  # files of --checkpoint.every_n_train_steps
                "checkpoint.auto_insert_metric_name": False,
                "checkpoint.enable_version_counter": False,  # resuming overwrites last.ckpt
            }
        )
        for name in self.linked_names:
            parser.link_arguments(f"data.{name}", f"model.{name}", apply_on="instantiate")

    @property
    def linked_names(self) -> list[str]:
        """Model arguments that come from the datamodule (``--data.resolution`` sets the model's resolution)."""
        model_params = init_parameters(self.model_class)
        names = ["resolution", "channels", "sample_shape", "domains", "text_dim", "text_encoder"]
        if getattr(self.model_class, "conditional", False):
            names.append("num_classes")
        return [n for n in names if n in model_params and hasattr(self.datamodule_class, n)]

    def before_instantiate_classes(self) -> None:
        from zoo.recipe_fit import fit_recipe_to_data

        config = self.config[self.subcommand] if self.subcommand else self.config
        logger_given = any(arg == "--logger" or arg.startswith("--logger=") for arg in self.argv)
        if config.trainer.logger not in (None, True, False) and logger_given:
            raise ZooError("--logger and --trainer.logger both choose a logger: give one of them")
        ckpt_path = config.get("ckpt_path")
        trainer = config.trainer
        defaults = self._subcommand_parsers[self.subcommand].get_defaults() if self.subcommand else config
        devices = device_count(trainer.devices, trainer.num_nodes, trainer.accelerator)
        if chosen := fit_recipe_to_data(config, defaults, self.argv, self.model_class, self.datamodule_class, devices):
            print(chosen, file=sys.stderr)
        if config.run_dir:
            self.run_dir = Path(config.run_dir)
        elif ckpt_path and Path(ckpt_path).parent.name == "checkpoints":
            self.run_dir = Path(ckpt_path).parent.parent  # resuming: keep writing into the same run folder
            os.environ["GAN_ZOO_RUN_DIR"] = str(self.run_dir)
        else:
            self.run_dir = make_run_dir(self.run_name)
        if ckpt_path and not logger_given and config.logger == "wandb":
            config.logger = saved_logger_choice(self.run_dir) or config.logger  # a resume continues the same logger
        check_logger_choice(config.logger)
        fix = "pass a --run_dir in a writable folder" if config.run_dir else "cd to a writable folder or pass --run_dir"
        self.created_dirs = create_run_dir(self.run_dir, fix)
        trainer.default_root_dir = str(self.run_dir)
        place_in_run_folder(trainer.logger, self.run_dir)
        if config.checkpoint.dirpath is None:
            config.checkpoint.dirpath = str(self.run_dir / "checkpoints")
        if trainer.strategy == "auto" and needs_ddp(trainer.devices, trainer.num_nodes, trainer.accelerator):
            # D-only and G-only backward passes leave half the parameters without gradients
            trainer.strategy = "ddp_find_unused_parameters_true"

    def instantiate_trainer(self, **kwargs):
        from callbacks import AtomicCheckpointIO

        self.datamodule.validate()  # a missing dataset fails here, before a W&B run exists
        self.check_resumed_model()
        trainer_config = self._get(self.config_init, "trainer", default={})
        if trainer_config.get("logger") in (None, True):
            choice = self._get(self.config, "logger")
            kwargs["logger"] = self.make_wandb_logger() if choice == "wandb" else folder_logger(choice, self.run_dir)
        plugins = trainer_config.get("plugins") or []
        plugins = list(plugins) if isinstance(plugins, (list, tuple)) else [plugins]
        kwargs["plugins"] = [*plugins, AtomicCheckpointIO()]
        return super().instantiate_trainer(**kwargs)

    def before_fit(self) -> None:
        if os.environ.get("LOCAL_RANK", "0") == "0":
            print(parameter_line(self.model, self.run_dir), file=sys.stderr)

    def after_fit(self) -> None:
        finish_wandb_run(exit_code=0)

    def check_resumed_model(self) -> None:
        """The model built for a resume against its checkpoint: values linked from the data (resolution,
        channels, classes) must match, or loading would fail or train something else."""
        from zoo.resume import check_built_model

        if self.resumed_hparams is not None:
            check_built_model(self.model.hparams, self.resumed_hparams, self.model_class.resume_overridable)

    def make_wandb_logger(self):
        from pytorch_lightning.loggers import WandbLogger

        if os.environ.get("WANDB_MODE") == "":
            del os.environ["WANDB_MODE"]  # wandb rejects an empty mode; empty means "not set"
        mode = os.environ.get("WANDB_MODE")
        offline = mode in ("offline", "dryrun") or (mode is None and not wandb_logged_in())
        run_id = wandb_run_id(self.run_dir)
        if offline and os.environ.get("LOCAL_RANK", "0") == "0":
            print(
                f"W&B: not logged in, logging offline into {self.run_dir}/wandb. Upload later with "
                f"`wandb sync --id {run_id} {self.run_dir}/wandb/offline-run-*`, or run `wandb login` first.",
                file=sys.stderr,
            )
        quiet = {}
        if offline and not self.verbose:
            # the W&B line above says it all: wandb's own start lines go (its environment, read when it sets
            # itself up) and so do its closing "wandb sync" lines (the run's settings, honoured by the
            # wandb.finish of after_fit); its warnings and errors still show
            import wandb

            os.environ.setdefault("WANDB_SHOW_INFO", "false")
            os.environ.setdefault("WANDB_QUIET", "true")
            quiet = {"settings": wandb.Settings(quiet=True, show_info=False)}
        logger = WandbLogger(
            **quiet,
            project=os.environ.get("WANDB_PROJECT", "gan-zoo"),
            name=f"{self.run_name}/{self.run_dir.name}",
            save_dir=str(self.run_dir),
            offline=offline,
            id=run_id,
            resume="allow",  # a resumed run continues its W&B run: one history, one run to upload
        )
        init = getattr(logger, "_wandb_init", None)
        if isinstance(init, dict) and init.get("anonymous") is None:
            # Lightning passes anonymous=None, which wandb answers with "The anonymous setting has no effect"
            init.pop("anonymous", None)
        return logger

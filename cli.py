#!/usr/bin/env python
"""GAN Zoo command line.

    python cli.py fit --model dcgan                       # train (default data: the model's default_data)
    python cli.py fit --model dcgan --data mnist --data.root data --print_config
    python cli.py sample --ckpt_path runs/.../checkpoints/last.ckpt --num_samples 64
    python cli.py models                                   # the zoo, one line each

``fit``/``validate``/``test``/``predict`` are LightningCLI subcommands over the model and datamodule
chosen by short name; a recipe ``configs/<model>/<data>.yaml`` is applied as the default config when
it exists (explicit ``--config`` files and flags override it), then fitted to the dataset's size
(zoo/recipe_fit.py); ``--preset NAME`` applies ``configs/<model>/presets/NAME.yaml`` over the recipe.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from zoo.errors import ZooError, plain_warning

ROOT = Path(__file__).resolve().parent
LIGHTNING_SUBCOMMANDS = ("fit", "validate", "test", "predict")
COMMANDS = (*LIGHTNING_SUBCOMMANDS, "sample", "evaluate", "prepare", "import", "models")
USAGE = """usage: python cli.py {fit,validate,test,predict} --model NAME [--data NAME] [--preset smoke] [--verbose]
                            [options]
       python cli.py sample --ckpt_path PATH [--num_samples N] [--seed S] [--out_dir DIR] [--npz] [--individual]
                            [--interpolate slerp|linear] [--truncations none,1,0.7] [--classes 0,1,2]
                            [--vary_code categorical|cat1|c1 ...]
                            [--truncation_cutoff N] [--noise_mode random|const|none] [--space z|w]
                            [--style_mix 1,2:3,4 --mix_layers coarse|middle|fine|A-B]
                            [--input DIR [--direction a_to_b|b_to_a] [--target NAME,NAME]]   (cyclegan, stargan)
                            [--latents FILE.npy [--labels FILE.npy]]
                            [--text "a caption" ... | --text_file F] [--interpolate_text "A" "B"]   (text to image)
       python cli.py evaluate --ckpt_path PATH [--data NAME] [--metrics fid,kid,is,pr] [--num_samples N]
       python cli.py prepare --data NAME --data.root PATH [--data.resolution R]      (or: prepare --list | --clean)
       python cli.py prepare --data captioned_mnist --data.root PATH  (the text encoder and caption embeddings)
       python cli.py import [--from SOURCE] --ckpt_path FILE --out zoo.ckpt   (the authors' checkpoints, zoo/importers)
       python cli.py models

Add --help after a model (python cli.py fit --model dcgan --help) for the common options, --help full for
every option, --help GROUP for one group's (model, data, trainer, ema, ...), or --print_config to see the
full configuration that would run."""


def quiet_known_warnings() -> None:
    """Silences warnings that are expected here and say nothing to a user, and prints the others as one
    ``warning: ...`` line (a converted checkpoint's, zoo/checkpoint_format.py) in every command."""
    warnings.formatwarning = plain_warning  # before Lightning's import, which keeps it for warnings not its own
    # the CLI passes a rewritten argv (short names resolved) while sys.argv keeps the original
    # for DDP worker processes, which Lightning relaunches from sys.argv
    warnings.filterwarnings("ignore", message=".*LightningCLI's args parameter is intended.*")
    warnings.filterwarnings("ignore", message=".*isinstance\\(treespec, LeafSpec\\)` is deprecated.*")
    warnings.filterwarnings("ignore", message=".*The anonymous setting has no effect.*")
    # checkpoints after the optimizer step are exactly what a resume needs
    warnings.filterwarnings("ignore", message=".*Using ModelCheckpoint with manual optimization.*")
    # our sampler resumes mid-epoch from the model's iteration counter (datamodules/sampler.py)
    warnings.filterwarnings("ignore", message=".*your dataloader is not resumable.*")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    quiet_known_warnings()
    try:
        if not argv or argv[0] in ("-h", "--help"):
            print(USAGE)
            return 0
        if argv[0] == "models":
            return list_models()
        if argv[0] == "sample":
            return sample_command(argv[1:])
        if argv[0] == "evaluate":
            from metrics.evaluate import evaluate_command

            return evaluate_command(argv[1:])
        if argv[0] == "prepare":
            return prepare_command(argv[1:])
        if argv[0] == "import":
            return import_command(argv[1:])
        if argv[0] not in LIGHTNING_SUBCOMMANDS:
            raise ZooError(f"unknown command '{argv[0]}'; choose one of: {', '.join(COMMANDS)}")
        run_lightning(argv)
        return 0
    except ZooError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


# ------------------------------------------------------------------------------------------ models


def list_models() -> int:
    """The zoo, one aligned line each, from the registry alone: no model, torch or Lightning is imported."""
    import zoo

    width = max(map(len, zoo.MODELS))
    try:
        for name in zoo.MODELS:
            print(f"{name:<{width}}  {zoo.SUMMARIES[name]}")
        sys.stdout.flush()  # a closed pipe fails here rather than in the flush at exit
    except BrokenPipeError:
        # the reader went away (models | head -3): stop quietly, the idiom of Python's signal docs
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 0


# ----------------------------------------------------------------------------------------- training


def find_option(argv: list[str], flag: str) -> tuple[int, int, str] | None:
    """(position, number of tokens, value) of ``--flag VALUE`` or ``--flag=VALUE`` in argv."""
    for i, arg in enumerate(argv):
        if arg == flag:
            if i + 1 >= len(argv) or argv[i + 1].startswith("-"):
                raise ZooError(f"{flag} needs a value")
            return i, 2, argv[i + 1]
        if arg.startswith(flag + "="):
            return i, 1, arg.split("=", 1)[1]
    return None


def option_value(argv: list[str], flag: str) -> str | None:
    """The value of ``flag`` in argv, left in place (None if absent)."""
    found = find_option(argv, flag)
    return found[2] if found else None


def pop_option(argv: list[str], flag: str) -> str | None:
    """Removes ``flag`` and its value from argv and returns the value (None if absent)."""
    found = find_option(argv, flag)
    if found is None:
        return None
    i, n, value = found
    del argv[i : i + n]
    return value


def resolve_class(name: str, registry_lookup) -> type:
    """A short registry name, or a full ``package.module.Class`` path for classes outside the zoo."""
    if "." in name:
        import importlib

        module, _, cls = name.rpartition(".")
        try:
            return getattr(importlib.import_module(module), cls)
        except (ImportError, AttributeError) as err:
            raise ZooError(f"cannot import {name}: {err}") from err
    return registry_lookup(name)


def run_lightning(argv: list[str]) -> None:
    import zoo
    from datamodules import DATAMODULES, data_name, get_datamodule

    verbose = "--verbose" in argv  # Lightning's own start-up output and model summary, as Lightning prints them
    argv[:] = [a for a in argv if a != "--verbose"]
    model_arg, data_arg = pop_option(argv, "--model"), pop_option(argv, "--data")
    if model_arg is None:
        raise ZooError(f"choose a model with --model NAME; the zoo has: {', '.join(zoo.MODELS)}")
    # unknown short names fail here, before anything heavy is imported
    for name, registry, lookup in ((model_arg, zoo.MODELS, zoo.get_model), (data_arg, DATAMODULES, get_datamodule)):
        if name and "." not in name and name not in registry:
            lookup(name)
    model_cls = resolve_class(model_arg, zoo.get_model)
    data_cls = resolve_class(data_arg or model_cls.default_data, get_datamodule)
    model_key = zoo.model_name(model_cls) or model_cls.__name__.lower()
    data_key = data_name(data_cls) or data_cls.__name__.lower()
    check_compatible(model_cls, data_cls, model_key, data_key)
    if ckpt_path := option_value(argv, "--ckpt_path"):
        stored = read_fit_checkpoint(ckpt_path).get("zoo_model")  # LightningCLI opens it first: name a bad file before
        if stored and stored != model_key:
            raise ZooError(f"{ckpt_path} holds a '{stored}' model, not '{model_key}': resume it with --model {stored}")

    recipe = ROOT / "configs" / model_key / f"{data_key}.yaml"
    preset_name = pop_option(argv, "--preset")
    preset = preset_file(model_key, preset_name) if preset_name else None
    parser_kwargs = {}
    announce = not any(a in ("--print_config", "-h", "--help") or a.startswith("--print_config=") for a in argv)
    if recipe.is_file():
        parser_kwargs = {sub: {"default_config_files": [str(recipe)]} for sub in LIGHTNING_SUBCOMMANDS}
        if announce:
            print(f"recipe: {recipe.relative_to(ROOT)}", file=sys.stderr)
    if preset is not None:
        argv[1:1] = ["--config", str(preset)]  # over the recipe, under the flags that follow: those win
        if announce:
            print(f"preset: {preset.relative_to(ROOT)}", file=sys.stderr)
    from callbacks import CorruptImageReport, GracefulInterrupt
    from zoo.lightning_cli import ZooCLI

    ZooCLI(
        model_cls,
        data_cls,
        run_name=f"{model_key}-{data_key}",
        verbose=verbose,
        args=argv,
        parser_kwargs=parser_kwargs,
        save_config_kwargs={"overwrite": True},
        auto_configure_optimizers=False,
        seed_everything_default=0,
        trainer_defaults={
            "use_distributed_sampler": False,
            "log_every_n_steps": 50,
            "enable_model_summary": verbose,  # quiet: ZooCLI prints one line with G's and D's parameter counts
            "callbacks": [CorruptImageReport(), GracefulInterrupt()],
        },
    )


def preset_file(model_key: str, name: str) -> Path:
    """``configs/<model>/presets/<name>.yaml``: a config applied over the recipe, e.g. ``--preset smoke`` (a
    one-minute CPU run); an unknown name is one error listing the model's presets."""
    folder = ROOT / "configs" / model_key / "presets"
    path = folder / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in folder.glob("*.yaml"))
        raise ZooError(
            f"unknown preset '{name}' for {model_key}; "
            + (f"choose one of: {', '.join(known)}" if known else "it has no presets (configs/<model>/presets/)")
        )
    return path


def read_fit_checkpoint(path: str) -> dict:
    """The checkpoint ``fit --ckpt_path`` resumes; an authors' file (zoo/importers) is named with the import that
    makes it one."""
    from callbacks import read_checkpoint
    from zoo.importers import detect_source

    try:
        return read_checkpoint(path)
    except ZooError as err:
        if (source := detect_source(path)) is None:
            raise
        raise ZooError(
            f"{path} is a {source} checkpoint, not a zoo one: convert it first with "
            f"`python cli.py import --ckpt_path {path} --out zoo.ckpt`, then fit --ckpt_path zoo.ckpt"
        ) from err


def check_compatible(model_cls: type, data_cls: type, model_key: str, data_key: str) -> None:
    """Image models need image data: say so instead of failing deep inside a network constructor."""
    from zoo.registry import init_parameters

    wants_images = "resolution" in init_parameters(model_cls)
    has_images = getattr(data_cls, "resolution", None) is not None or "resolution" in init_parameters(data_cls)
    if wants_images and not has_images:
        raise ZooError(
            f"--model {model_key} generates images, but --data {data_key} has no images; pick an image dataset"
        )


# ----------------------------------------------------------------------------------------- prepare


def prepare_command(argv: list[str]) -> int:
    """Builds a dataset's resized uint8 cache ahead of training (fit builds it too when missing), checking
    every image of an existing cache and rebuilding a damaged one. Without --data: lists (--list) or cleans
    (--clean) the cache folder, see datamodules/cache_folder.py."""
    import json

    from jsonargparse import ArgumentParser

    from datamodules import get_datamodule

    name = pop_option(argv, "--data")
    if name is None:
        from datamodules.cache_folder import cache_folder_command

        return cache_folder_command(argv)
    data_cls = resolve_class(name, get_datamodule)
    if hasattr(data_cls, "prepare_embeddings"):
        return prepare_text_embeddings(name, data_cls, argv)
    if not hasattr(data_cls, "cache_paths"):
        raise ZooError(f"--data {name} is read into memory directly; it has no cache to prepare")
    parser = ArgumentParser(prog=f"python cli.py prepare --data {name}", description=prepare_command.__doc__)
    parser.add_class_arguments(data_cls, "data")
    data = parser.instantiate(parser.parse_args(argv)).data
    data.check_whole_cache = True
    data.prepare_data()
    for path in data.cache_paths():
        meta = json.loads(path.with_suffix(".json").read_text())
        print(f"{meta['count']} images at {data.resolution} px in {path.with_suffix('.npy')}")
        for bad in meta["unreadable"]:
            print(f"  unreadable, left out: {bad}")
    return 0


def prepare_text_embeddings(name: str, data_cls: type, argv: list[str]) -> int:
    """``prepare`` for captioned data without char-CNN-RNN-embeddings.pickle: builds the dataset where it is built
    (captioned_mnist), trains the zoo's text encoder and caches every caption's embedding
    (datamodules/text_embeddings.py); reuses a valid cache."""
    from jsonargparse import ArgumentParser

    parser = ArgumentParser(prog=f"python cli.py prepare --data {name}", description=prepare_text_embeddings.__doc__)
    parser.add_class_arguments(data_cls, "data")
    data = parser.instantiate(parser.parse_args(argv)).data
    data.prepare_data()
    data.validate()
    if not data.uses_zoo_encoder:
        print(f"{data.root} has char-CNN-RNN-embeddings.pickle: its embeddings are used, no text encoder to train")
        return 0
    cache = data.prepare_embeddings()
    from datamodules.text_embeddings import cache_path

    counts = ", ".join(f"{split} {len(index)}" for split, index in cache["index"].items())
    scores = "".join(f"; {split} zero-shot accuracy {100 * acc:.1f}%" for split, acc in cache["scores"].items())
    print(f"text encoder: {len(cache['table'])} distinct captions, {cache['table'].shape[1]}-d embeddings ({counts} "
          f"images){scores} -> {cache_path(data.root)}")  # fmt: skip
    return 0


# ------------------------------------------------------------------------------------------ import


def import_command(argv: list[str]) -> int:
    """Converts a checkpoint written by the authors' code into a zoo checkpoint; see zoo/importers."""
    from zoo.importers import SOURCES, build, import_checkpoint, write_checkpoint

    parser = argparse.ArgumentParser(
        prog="python cli.py import",
        description="Convert a checkpoint written by the authors' code into a GAN Zoo checkpoint that sample, "
        "evaluate and fit --ckpt_path (fine-tuning from step 0) accept. sample and evaluate also take the "
        "authors' file directly.",
    )
    parser.add_argument(
        "--from", dest="source", default=None, metavar="SOURCE",
        help=f"the code that wrote the file: {', '.join(SOURCES)} (default: detected from the file names)",
    )  # fmt: skip
    parser.add_argument(
        "--ckpt_path", required=True,
        help="one of the checkpoint's files (its siblings, e.g. netD beside netG, are found in the same folder) "
        "or their folder (the newest checkpoint there)",
    )  # fmt: skip
    parser.add_argument("--out", required=True, help="the zoo checkpoint to write")
    args = parser.parse_args(argv)
    imported = import_checkpoint(args.source, args.ckpt_path)
    model = build(imported)
    out = write_checkpoint(imported, args.out)
    g, d = (sum(p.numel() for p in net.parameters()) for net in (model.generator, model.discriminator))
    print(f"{imported.model} ({g:,} G / {d:,} D parameters) from {args.ckpt_path} -> {out}")
    return 0


# ------------------------------------------------------------------------------------------ sample


def sample_command(argv: list[str]) -> int:
    """Turns a checkpoint into pictures and sample files; see zoo/sampling.py."""
    parser = argparse.ArgumentParser(
        prog="python cli.py sample",
        description="Turn a checkpoint into samples: a grid, interpolation strips, truncation and class rows, "
        "and files for external evaluators (one PNG per sample, an .npz). Uses the EMA generator when the "
        "checkpoint has one.",
    )
    parser.add_argument("--ckpt_path", required=True, help="a checkpoint written by `cli.py fit`")
    parser.add_argument("--model", default=None, help="expected model name (default: the one stored in the checkpoint)")
    parser.add_argument("--num_samples", type=int, default=64, help="samples in grid.png, the PNGs and the .npz")
    parser.add_argument("--seed", type=int, default=0, help="latent seed: the same seed gives the same images")
    parser.add_argument(
        "--truncation", type=float, default=None,
        help="truncation trick: resample |z_i| above this (BigGAN); for stylegan/stylegan2 it is psi, "
        "w = w_avg + psi (w - w_avg)",
    )  # fmt: skip
    parser.add_argument(
        "--truncation_cutoff", type=int, default=None,
        help="style models: truncate only the ws below this index (default: all; StyleGAN's figures: 8 with psi 0.7)",
    )  # fmt: skip
    parser.add_argument(
        "--noise_mode", choices=("random", "const", "none"), default=None,
        help="style models: per-pixel noise, random (fresh each run), const (fixed) or none (default: the model's)",
    )  # fmt: skip
    parser.add_argument("--out_dir", default=None, help="default: <run>/samples/<checkpoint>-seed<seed>")
    parser.add_argument("--grid", action=argparse.BooleanOptionalAction, default=True, help="write grid.png")
    parser.add_argument("--individual", action=argparse.BooleanOptionalAction, default=False, help="one PNG per sample")
    parser.add_argument(
        "--npz", action=argparse.BooleanOptionalAction, default=False,
        help="write samples.npz: uint8 NHWC images under arr_0 (labels under arr_1), for the NVlabs/clean-fid/ADM "
        "evaluators",
    )  # fmt: skip
    parser.add_argument("--batch_size", type=int, default=64, help="samples generated at a time")
    parser.add_argument("--nrow", type=int, default=None, help="images per grid row")
    parser.add_argument(
        "--interpolate", choices=("linear", "slerp"), default=None,
        help="write interpolation-METHOD.png: --strips rows of --steps images between two latents",
    )  # fmt: skip
    parser.add_argument(
        "--space", choices=("z", "w"), default="z",
        help="where --interpolate walks: z, or w for style models (linear only, as StyleGAN's path length in W)",
    )  # fmt: skip
    parser.add_argument("--strips", type=int, default=8, help="rows of the interpolation and code pictures")
    parser.add_argument("--steps", type=int, default=10, help="images per interpolation row, end points included")
    parser.add_argument(
        "--truncations", default=None, help="write truncation.png, one row per value, e.g. none,1.0,0.7,0.5"
    )
    parser.add_argument("--classes", default=None, help="write classes.png, one row per class, e.g. 0,1,2")
    parser.add_argument("--columns", type=int, default=8, help="images per row of truncation.png and classes.png")
    parser.add_argument(
        "--vary_code", default=None, metavar="NAME",
        help="InfoGAN: write code-NAME.png, --strips rows each sweeping code NAME (categorical, or cat1, cat2 ... "
        "with several categorical codes: every category; c1, c2 ...: 10 values over [-2, 2]) with the rest of the "
        "latent fixed",
    )  # fmt: skip
    parser.add_argument(
        "--style_mix", default=None, metavar="ROW_SEEDS:COLUMN_SEEDS",
        help="style models: write style-mixing.png (StyleGAN Fig. 3), e.g. 1,2,3:10,11,12,13: cell (r, c) is row "
        "seed r with the --mix_layers ws of column seed c",
    )  # fmt: skip
    parser.add_argument(
        "--mix_layers", default="coarse",
        help="ws taken from the column seed: coarse (ws 0-3, 4-8 px), middle (4-7, 16-32 px), fine (8 to the "
        "last, 64 px up) or A-B (ws A to B); clamped to the model's ws, so small resolutions have fewer groups",
    )  # fmt: skip
    parser.add_argument(
        "--input", default=None, metavar="DIR",
        help="image-to-image models: translate every image of this folder or zip into <out_dir>/translated/",
    )  # fmt: skip
    parser.add_argument("--direction", choices=("a_to_b", "b_to_a"), default="a_to_b", help="cyclegan: which way")
    parser.add_argument(
        "--target", default=None, metavar="NAMES",
        help="stargan: the target domains set for every --input image (the others cleared), e.g. Blond_Hair,Young",
    )  # fmt: skip
    parser.add_argument(
        "--latents", default=None, metavar="FILE.npy",
        help="render these latents, one per row, in order: grid.png, the PNGs and the .npz show exactly them "
        "(--num_samples is their count)",
    )  # fmt: skip
    parser.add_argument(
        "--labels", default=None, metavar="FILE.npy", help="with --latents: one int class per latent (conditional)"
    )
    parser.add_argument(
        "--extrapolate", type=int, default=None, metavar="STEPS",
        help="cocogan: write extrapolation.png, --num_samples images drawn STEPS micro patches past every side of "
        "the image (COCO-GAN's beyond-boundary generation)",
    )  # fmt: skip
    parser.add_argument(
        "--text", action="append", default=None, metavar="CAPTION",
        help="text-to-image models: grid.png with --num_samples images of this caption (repeat for several)",
    )  # fmt: skip
    parser.add_argument("--text_file", default=None, metavar="F", help="text-to-image: one caption per line")
    parser.add_argument(
        "--interpolate_text", nargs=2, default=None, metavar=("A", "B"),
        help="text-to-image: write interpolation-text.png, --strips rows of --steps images, the text going from A to B",
    )  # fmt: skip
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 ... (auto: cuda when available)")
    args = parser.parse_args(argv)

    import torch
    from torchvision.utils import save_image

    from callbacks import load_gan
    from callbacks.samples import sample_picture
    from zoo import infogan_sampling, sampling, style_sampling

    def comma_list(flag: str, convert, example: str) -> list:
        try:
            return [convert(item.strip()) for item in (getattr(args, flag) or "").split(",") if item.strip()]
        except ValueError as err:
            raise ZooError(f"--{flag} takes a comma-separated list, e.g. --{flag} {example}") from err

    if min(args.num_samples, args.batch_size, args.columns) < 1:
        raise ZooError("--num_samples, --batch_size and --columns must be >= 1")
    if args.labels and not args.latents:
        raise ZooError("--labels gives the classes of --latents, one per row: add --latents FILE.npy")
    truncations = comma_list("truncations", lambda v: None if v == "none" else float(v), "none,1.0,0.7,0.5")
    classes = comma_list("classes", int, "0,1,2")
    mix_seeds = style_sampling.seed_lists(args.style_mix) if args.style_mix else None
    model = load_gan(args.ckpt_path, expected_model=args.model)
    style = sampling.StyleOptions(args.truncation_cutoff, args.noise_mode)
    if style != sampling.StyleOptions() or mix_seeds or args.space == "w":
        sampling.require_style_model(model)
    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    model.to(device)

    ckpt = Path(args.ckpt_path)
    run_dir = ckpt.parent.parent if ckpt.parent.name == "checkpoints" else ckpt.parent
    out_dir = Path(args.out_dir) if args.out_dir else run_dir / "samples" / f"{ckpt.stem}-seed{args.seed}"
    out_dir.mkdir(parents=True, exist_ok=True)
    if getattr(model, "translates_images", False) or args.input:
        return translate_command(model, args, out_dir)
    if args.text or args.text_file or args.interpolate_text:
        return text_command(model, args, out_dir)
    seed, truncation = args.seed, args.truncation
    inputs = sampling.load_inputs(model, args.latents, args.labels) if args.latents else None
    if inputs is not None:
        args.num_samples = len(inputs[0])
    pictures = {}  # file name -> (samples, images per row)
    if args.grid:
        grid = sampling.grid_samples(model, args.num_samples, args.batch_size, seed, truncation, style, inputs)
        pictures["grid.png"] = (grid, args.nrow)
    if args.interpolate and args.space == "w":
        if args.interpolate != "linear":
            raise ZooError("W is not Gaussian: --space w interpolates linearly (--interpolate linear); slerp is for z")
        strips = style_sampling.interpolate_w(model, args.strips, args.steps, seed, truncation, style)
        pictures["interpolation-linear-w.png"] = (strips, args.steps)
    elif args.interpolate:
        strips = sampling.interpolate(model, args.strips, args.steps, args.interpolate, seed, truncation, style)
        pictures[f"interpolation-{args.interpolate}.png"] = (strips, args.steps)
    if truncations:
        sweep = sampling.truncation_sweep(model, truncations, args.columns, seed, style)
        pictures["truncation.png"] = (sweep, args.columns)
    if classes and model.num_classes is None:  # the other pictures are still wanted: skip this one, say why
        print(f"note: {type(model).__name__} is unconditional: --classes skipped, no classes.png", file=sys.stderr)
    elif classes:
        rows = sampling.class_grid(model, classes, args.columns, seed, truncation, style)
        pictures["classes.png"] = (rows, args.columns)
    if mix_seeds:
        layers = style_sampling.mix_layers(args.mix_layers, style_sampling.num_ws(model))
        mixing = style_sampling.style_mixing(model, *mix_seeds, layers, truncation, style)
        pictures["style-mixing.png"] = (mixing, len(mix_seeds[1]) + 1)
    if args.vary_code:
        values = infogan_sampling.default_values(model, args.vary_code)
        sweep = infogan_sampling.vary_code(model, args.vary_code, values, args.strips, seed)
        pictures[f"code-{args.vary_code}.png"] = (sweep, len(values))
    if args.extrapolate is not None:
        if not hasattr(model, "extrapolate"):
            raise ZooError(f"--extrapolate needs a cocogan checkpoint; {type(model).__name__} draws whole images")
        pictures["extrapolation.png"] = (model.extrapolate(args.num_samples, args.extrapolate, seed).cpu(), args.nrow)
    for name, (samples, nrow) in pictures.items():
        if name != "grid.png" and samples.dim() != 4:
            raise ZooError(f"{name} shows rows of images; this model generates points, use the grid")
        save_image(sample_picture(samples, nrow), out_dir / name)
    if args.individual or args.npz:
        sampling.dump(
            model, out_dir, args.num_samples, args.npz, args.individual, args.batch_size, seed, truncation, style,
            inputs,
        )  # fmt: skip
    written = [*pictures, *(["samples.npz"] if args.npz else []), *(["000000.png ..."] if args.individual else [])]
    ema = " (EMA generator)" if model.generator_ema is not None else ""
    print(f"{type(model).__name__} at {model.images_seen / 1000:.1f} kimg{ema}: {', '.join(written)} -> {out_dir}")
    return 0


def text_command(model, args, out_dir: Path) -> int:
    """``sample --text/--text_file/--interpolate_text`` for text-to-image models; see zoo/text_sampling.py."""
    from torchvision.utils import save_image

    from callbacks.samples import sample_picture
    from zoo import text_sampling

    text_sampling.require_text_model(model)
    captions = text_sampling.read_captions(args.text, args.text_file)
    pictures = {}  # file name -> (stages, images per row)
    if captions:
        stages = text_sampling.caption_stages(model, captions, args.num_samples, args.seed)
        pictures["grid.png"] = (stages, args.nrow or min(args.num_samples, 16))
        (out_dir / "captions.txt").write_text("\n".join(captions) + "\n", encoding="utf-8")
    if args.interpolate_text:
        stages = text_sampling.text_interpolation(model, *args.interpolate_text, args.strips, args.steps, args.seed)
        pictures["interpolation-text.png"] = (stages, args.steps)
    for name, (stages, nrow) in pictures.items():
        save_image(sample_picture(stages[-1], nrow), out_dir / name)
        if len(stages) > 1:
            for i, images in enumerate(stages, 1):
                save_image(sample_picture(images, nrow), out_dir / name.replace(".png", f"-stage{i}.png"))
    print(f"{type(model).__name__} at {model.images_seen / 1000:.1f} kimg: {', '.join(pictures)} -> {out_dir}")
    return 0


#: sample options that act on latents, which an image-to-image model does not have
LATENT_SAMPLING_FLAGS = (
    "truncation", "truncation_cutoff", "noise_mode", "npz", "individual", "interpolate", "truncations", "classes",
    "vary_code", "style_mix", "latents", "labels",
)  # fmt: skip


def translate_command(model, args, out_dir: Path) -> int:
    """``sample --input DIR`` for image-to-image models: one translated PNG per input image, and grid.png with
    the first --num_samples inputs over their translations."""
    import torch
    from torchvision.utils import save_image

    from callbacks.samples import sample_picture
    from zoo.translation import translate_folder

    if not getattr(model, "translates_images", False):
        name = type(model).__name__
        raise ZooError(f"--input is for image-to-image models (cyclegan, stargan); {name} samples from latents")
    if args.input is None:
        raise model.refuse_latents("sample without --input")
    latent_only = [f"--{flag}" for flag in LATENT_SAMPLING_FLAGS if getattr(args, flag) not in (None, False)]
    if args.space != "z":
        latent_only.append("--space")
    if latent_only:
        raise ZooError(f"{', '.join(latent_only)} sample(s) latents; {type(model).__name__} translates --input images")
    targets = [name.strip() for name in (args.target or "").split(",") if name.strip()]
    labels = model.target_labels(targets) if targets else None
    written, inputs, outputs = translate_folder(
        model, args.input, out_dir / "translated", args.direction, labels, args.batch_size, args.num_samples
    )
    save_image(sample_picture(torch.cat([inputs, outputs]), len(inputs)), out_dir / "grid.png")
    name = type(model).__name__
    print(f"{name} at {model.images_seen / 1000:.1f} kimg: {written} images of {args.input} translated -> {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

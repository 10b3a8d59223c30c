"""``python cli.py fit --model NAME --help``: the common options on one screen instead of jsonargparse's ~900 lines.

``--help`` prints a summary of the options most runs touch, ``--help full`` jsonargparse's complete help and
``--help GROUP`` (trainer, model, data, ema, fid, ...) one group's part of it. The summary is generated from the
parser: the option names are curated in ``SUMMARY``, their help text and defaults are read from the parser's
actions, and the values the recipe (``configs/<model>/<data>.yaml``, the parser's default config file) sets are
shown beside the defaults they replace, so the summary cannot drift from what would run. A curated name the parser
does not have is a ZooError, never a silently shorter summary (tests/test_help_summary.py checks that every model
and data source has them).
"""

from __future__ import annotations

import copy
import re
import shutil
import textwrap
from argparse import SUPPRESS
from collections.abc import Iterable
from pathlib import Path

from jsonargparse._typehints import type_to_str

from zoo.errors import ZooError

#: The options the summary shows, by topic. Each name must be an option of every zoo model's parser: a new
#: option (e.g. trainer.max_kimg) is one more name in its topic here; one that cli.py reads itself, before the
#: parser, goes in FRONT_OPTIONS instead.
SUMMARY: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("model", ("model.objective", "model.penalties", "model.g_lr", "model.d_lr", "model.d_steps")),
    ("data", ("data.batch_size", "data.num_workers")),
    (
        "budget (the first reached ends the run; max_steps counts optimizer steps: 2 per D+G iteration)",
        ("trainer.max_kimg", "trainer.max_epochs", "trainer.max_steps"),
    ),
    ("EMA of the generator", ("ema.half_life_kimg", "ema.decay")),
    ("FID during training", ("fid.every_n_kimg", "fid.metrics", "fid.weights")),
    ("sample grids", ("samples.every_n_kimg", "samples.num_samples")),
    ("checkpoints and resuming", ("checkpoint.every_n_kimg", "checkpoint.keep_last", "ckpt_path")),
    ("devices and precision", ("trainer.accelerator", "trainer.devices", "trainer.num_nodes", "trainer.precision")),
    (
        "run folder and logging (W&B offline until `wandb login`)",
        ("run_dir", "logger", "wandb.log_model", "seed_everything"),
    ),
)

#: The options cli.py reads itself before the parser sees the rest (cli.py run_lightning), with their help.
FRONT_OPTIONS: dict[str, str] = {
    "model": "the zoo entry; `python cli.py models` lists them",
    "data": "the data source (default: the model's default_data)",
    "verbose": "Lightning's own start-up lines and model summary",
    "preset": "a preset over the recipe, configs/<model>/presets/NAME.yaml (smoke: a one-minute CPU run)",
}

#: ``--help TOPIC`` that prints every option
FULL = "full"

#: where the help text of the summary's lines starts
HELP_COLUMN = 40

ROOT = Path(__file__).resolve().parents[1]


def requested_help(args: list[str]) -> tuple[int, str | None] | None:
    """(position of -h/--help in args, the topic after it or None), or None when no help is asked for."""
    for i, arg in enumerate(args):
        if arg in ("-h", "--help"):
            topic = args[i + 1] if i + 1 < len(args) and not args[i + 1].startswith("-") else None
            return i, topic
    return None


def help_text(topic: str | None, parser, subcommand: str, model_cls: type, model_name: str, data_name: str) -> str:
    """What ``--help [TOPIC]`` prints: the summary, or one group's options (``--help full`` is jsonargparse's)."""
    if topic is None:
        return summary(parser, subcommand, model_cls, model_name, data_name)
    topics = help_topics(parser, subcommand)
    if topic not in topics:
        raise ZooError(
            f"no help topic '{topic}'; use --help, --help {FULL} or --help GROUP, GROUP one of: {', '.join(topics)}"
        )
    return group_help(parser, topic, command_line(subcommand, model_name, data_name))


def command_line(subcommand: str, model_name: str, data_name: str) -> str:
    """``python cli.py fit --model dcgan --data digits``: the command the help is about."""
    return f"python cli.py {subcommand} --model {model_name} --data {data_name}"


def help_topics(parser, subcommand: str) -> list[str]:
    """The groups ``--help GROUP`` shows: the parser's option groups, without the subcommand's own one."""
    return [name for name in parser.groups if name != subcommand]


def group_help(parser, group: str, command: str) -> str:
    """jsonargparse's help for the options of one group, with the recipe's values as defaults."""
    view = copy.copy(parser)  # a shallow copy shares the actions: only what is printed changes
    view._action_groups = [parser.groups[group]]
    view.usage = f"{command} [--{group}.OPTION VALUE ...]"
    view.description = None
    return view.format_help()


def summary(parser, subcommand: str, model_cls: type, model_name: str, data_name: str) -> str:
    """The common options of ``cli.py SUBCOMMAND --model MODEL --data DATA``, one line each: ``--name VALUE  first
    sentence of its help``, VALUE being what would run, marked where the recipe set it."""
    from zoo.base import GANModule
    from zoo.registry import init_parameters

    command = command_line(subcommand, model_name, data_name)
    actions = options(parser)
    missing = [name for _, names in SUMMARY for name in names if name not in actions]
    if missing:
        raise ZooError(f"the --help summary lists {', '.join(missing)}, which {command} does not take: fix SUMMARY")
    defaults = parser.get_defaults()  # the parser's defaults with the recipe applied
    from_recipe = {
        dest: defaults.get(dest)
        for dest, action in actions.items()
        if dest in defaults and defaults.get(dest) != action.default
    }
    recipe = next((recipe_name(path) for path in parser.default_config_files), None)
    width = max(80, shutil.get_terminal_size((120, 24)).columns)

    def line(flag: str, value: str, text: str) -> str:
        head = f"  {flag} {value}".rstrip()
        return clip((head.ljust(HELP_COLUMN) if len(head) < HELP_COLUMN else head + "  ") + text, width)

    topics = ", ".join(help_topics(parser, subcommand))
    more = f"More: --help full (every option), --help GROUP (one group: {topics}), --print_config (the configuration)."
    out = [f"usage: {command} [options]", *([f"recipe: {recipe}"] if recipe else []), ""]
    out += textwrap.wrap(f"The common options, with the values that would run. {more}", width)
    out += ["", "choosing"]
    for name, text in FRONT_OPTIONS.items():
        out.append(line(f"--{name}", {"model": model_name, "data": data_name}.get(name, ""), text))
    for topic, names in SUMMARY:
        out.append(topic)
        for name in names:
            value = shown(defaults.get(name))
            if name in from_recipe:
                value += f" (recipe; default {shown(actions[name].default)})"
            out.append(line(f"--{name}", value, describe(actions[name])))
        if names[0].startswith("model."):
            own = sorted(init_parameters(model_cls) - init_parameters(GANModule))
            out += also(f"{model_cls.__name__}'s own", "model", own, names, defaults, actions, width)
        elif names[0].startswith("data."):
            rest = [dest.split(".", 1)[1] for dest in actions if dest.startswith("data.")]
            out += also(data_name, "data", rest, names, defaults, actions, width)
    if from_recipe:
        sets = ", ".join(f"{dest}={shown(value)}" for dest, value in from_recipe.items())
        out += ["", *textwrap.wrap(f"{recipe} sets: {sets}", width, subsequent_indent="  ", break_on_hyphens=False)]
    return "\n".join(out) + "\n"


def options(parser) -> dict:
    """The parser's options by name (``model.g_lr``), without help, config-file loaders and data->model links."""
    return {
        action.dest: action
        for action in parser._actions
        if action.option_strings and action.option_strings[0].startswith("--") and action.default is not SUPPRESS
    }


def recipe_name(path) -> str:
    """A default config file as cli.py names it: relative to the repository (configs/dcgan/digits.yaml)."""
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def also(owner: str, group: str, names: Iterable[str], shown_names, defaults, actions, width: int) -> list[str]:
    """The group's other options with their values, wrapped, e.g. ``DCGAN's own options (--model.NAME): ndf=32,
    ngf=32``; nothing when there are none."""
    rest = [f"{n}={shown(defaults.get(f'{group}.{n}'))}" for n in names if f"{group}.{n}" in actions]
    rest = [item for item in rest if f"{group}.{item.split('=')[0]}" not in shown_names]
    if not rest:
        return []
    text = f"{owner} options (--{group}.NAME): {', '.join(rest)}"
    return textwrap.wrap(text, width, initial_indent="  ", subsequent_indent="    ", break_on_hyphens=False)


def shown(value) -> str:
    """A value as it is written on the command line: null, true, false, 0.0002, [0.5,0.999]."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return f"[{','.join(map(shown, value))}]"
    return str(value)


def describe(action) -> str:
    """The first sentence of an option's help, without reST markup (Lightning's docstrings use ``code``); the
    option's type where it has no help."""
    text = " ".join((action.help or "").replace("``", "").split())
    if not text:
        typehint = getattr(action, "_typehint", None)
        return f"({type_to_str(typehint)})" if typehint is not None else ""
    return re.split(r"(?<=\.)\s+(?=[A-Z(`])", text, maxsplit=1)[0]


def clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, ending in an ellipsis where it was cut."""
    return text if len(text) <= width else text[: width - 3].rstrip() + "..."

"""The parser of ``cli.py fit`` and the other Lightning subcommands: a parse error is one ZooError line
that names the option, the value or the file and the fix, instead of jsonargparse's usage text."""

from __future__ import annotations

import difflib
import re

import yaml
from jsonargparse._typehints import type_to_str
from pytorch_lightning.cli import LightningArgumentParser

from zoo.errors import ZooError

#: a negative number, also in scientific notation: argparse knows only -1 and -0.5 and reads -1e-4 as an option
NEGATIVE_NUMBER = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


class ZooArgumentParser(LightningArgumentParser):
    """LightningArgumentParser whose errors raise a one-line ZooError. Options are never abbreviated
    (``--trainer.max_step`` is an unknown option, not ``--trainer.max_steps``), and ``-1e-4`` is a value."""

    #: the command that lists every option; ZooCLI sets the model's own
    help_command = "python cli.py fit --model NAME --help full"

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = NEGATIVE_NUMBER

    def error(self, message: str, ex: Exception | None = None):
        """Raises the message as a ZooError; nested parsers (exit_on_error false) raise as jsonargparse does,
        for the parser that called them to report."""
        if not self.exit_on_error:
            super().error(message, ex)
        raise ZooError(self.explain(message, ex)) from None

    def parse_path(self, path, *args, **kwargs):
        """Parses a --config file; an error in it names the file."""
        try:
            return super().parse_path(path, *args, **kwargs)
        except ZooError as err:
            raise ZooError(f"config file {path}: {err}") from None

    def explain(self, message: str, ex: Exception | None) -> str:
        """One line for a jsonargparse error message: what is wrong and how to fix it."""
        if yaml_error := find_yaml_error(ex):
            mark = yaml_error.problem_mark
            return f"not valid YAML at line {mark.line + 1}, column {mark.column + 1}: {yaml_error.problem}"
        if message.startswith("unrecognized arguments: "):
            return self.unrecognized(message.split(": ", 1)[1].split())
        if unknown := re.match(r"Subcommand '\S+' does not accept option '(\S+)'", message):
            parser = getattr(ex, "subcommand_parser", None) or self
            return parser.unknown_option(f"--{unknown[1]}")
        if invalid := re.match(r'Parser key "([^"]+)":\s*(.*)', message, re.DOTALL):
            return self.invalid_value(invalid[1], invalid[2])
        return f"{first_line(message)} {self.hint}"

    @property
    def hint(self) -> str:
        """Where to look up the options."""
        return f"({self.help_command} lists every option)"

    def unrecognized(self, tokens: list[str]) -> str:
        """The first unknown option among argparse's leftover tokens, or the stray value."""
        flags = [token.split("=", 1)[0] for token in tokens if token.startswith("-")]
        if flags:
            return self.unknown_option(flags[0])
        return f"unexpected value '{tokens[0]}': options are written --name value {self.hint}"

    def unknown_option(self, flag: str) -> str:
        """Names an unknown option and the closest known one."""
        close = difflib.get_close_matches(flag, self._option_string_actions, n=1)
        guess = f"; did you mean {close[0]}?" if close else ""
        return f"unknown option {flag}{guess} {self.hint}"

    def invalid_value(self, key: str, detail: str) -> str:
        """Names the option, the value given and the type it takes."""
        action = self._option_string_actions.get(f"--{key}")
        typehint = getattr(action, "_typehint", None)
        given = re.findall(r"(?:Got|Given) value: (.*)", detail)
        if given and typehint is not None:
            return f"invalid value '{given[-1]}' for --{key}; it takes {type_to_str(typehint)}"
        return f"--{key}: {first_line(detail)}"


def find_yaml_error(ex: BaseException | None) -> yaml.MarkedYAMLError | None:
    """The YAML syntax error (with its line and column) behind a config parse error, if there is one."""
    while ex is not None:
        if isinstance(ex, yaml.MarkedYAMLError) and ex.problem_mark is not None:
            return ex
        ex = ex.__cause__
    return None


def first_line(text: str) -> str:
    """The first non-empty line of a multi-line message."""
    return text.strip().splitlines()[0]

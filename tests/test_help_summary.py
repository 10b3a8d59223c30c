"""``cli.py fit --help`` (issue 20): the common options on one screen, read from the parser with the recipe's values
beside the defaults they replace; ``--help full`` is every option, ``--help GROUP`` one group's."""

from __future__ import annotations

import pytest

import cli
import zoo
from zoo import help_summary


@pytest.fixture(autouse=True)
def fixed_width(monkeypatch, tmp_path):
    """A 120-column terminal, and a scratch working directory to show that help creates no run folder."""
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.chdir(tmp_path)


def help_of(capsys, *args: str) -> str:
    """What ``cli.py fit ARGS`` prints before it exits with status 0."""
    with pytest.raises(SystemExit) as exited:
        cli.main(["fit", *args])
    assert exited.value.code in (0, None)
    return capsys.readouterr().out


def spy_parser(monkeypatch) -> dict:
    """Records the parser the summary is built from, for the test to read the actions itself."""
    seen = {}
    real = help_summary.help_text

    def spy(topic, parser, *rest):
        seen["parser"] = parser
        return real(topic, parser, *rest)

    monkeypatch.setattr(help_summary, "help_text", spy)
    return seen


def test_summary_is_one_screen_of_curated_options_with_parser_defaults_help_and_recipe_values(
    capsys, monkeypatch, tmp_path
):
    seen = spy_parser(monkeypatch)
    text = help_of(capsys, "--model", "dcgan", "--help")
    lines = text.splitlines()
    assert 30 <= len(lines) <= 60, text
    assert max(map(len, lines)) <= 120, text
    assert lines[:2] == [
        "usage: python cli.py fit --model dcgan --data digits [options]",
        "recipe: configs/dcgan/digits.yaml",
    ]
    words = " ".join(text.split())
    assert "--help full (every option)" in words and "--help GROUP (one group: trainer, model, data, ema," in words

    # every curated option, once, as --name VALUE and the start of its help, both read from the parser's actions
    parser = seen["parser"]
    actions = {a.dest: a for a in parser._actions}
    defaults = parser.get_defaults()
    for _, names in help_summary.SUMMARY:
        for name in names:
            (line,) = [line for line in lines if line.startswith(f"  --{name} ")]
            assert line.startswith(f"  --{name} {help_summary.shown(defaults[name])}"), line
            help_start = help_summary.describe(actions[name])[:30]
            assert help_start and help_start in line, (line, help_start)

    # values checked by hand: parser defaults, the recipe's values beside them, and the recipe's whole difference
    def line_of(flag: str) -> str:
        return next(line for line in lines if line.startswith(f"  {flag} "))

    assert line_of("--model.g_lr").split() == ["--model.g_lr", "0.0002", "generator", "learning", "rate."]
    assert line_of("--model.d_steps").startswith("  --model.d_steps 1 ")
    assert line_of("--data.batch_size").split()[:2] == ["--data.batch_size", "64"]  # recipe 64 = default 64
    assert line_of("--trainer.max_epochs").startswith(
        "  --trainer.max_epochs 120 (recipe; default null)  Stop training"
    )
    assert line_of("--samples.every_n_kimg").startswith("  --samples.every_n_kimg 20.0 (recipe; default 10.0)")
    assert line_of("--checkpoint.every_n_kimg").split()[:2] == ["--checkpoint.every_n_kimg", "200.0"]
    assert line_of("--model").split()[:2] == ["--model", "dcgan"]
    assert line_of("--data").split()[:2] == ["--data", "digits"]
    assert "  DCGAN's own options (--model.NAME): ndf=32, ngf=32" in lines
    assert (
        "  digits options (--data.NAME): resolution=16, seed=null, labelled=null, labelled_seed=1, "
        "labelled_batch_size=100"
    ) in lines
    recipe = text[text.index("configs/dcgan/digits.yaml sets: ") :].split(": ", 1)[1]
    assert " ".join(recipe.split()).split(", ") == [
        "trainer.max_epochs=120", "trainer.log_every_n_steps=10", "model.ngf=32", "model.ndf=32",
        "data.resolution=16", "samples.every_n_kimg=20.0",
    ]  # fmt: skip
    assert not (tmp_path / "runs").exists()


def test_help_full_prints_every_option_and_help_group_one_group(capsys):
    full = help_of(capsys, "--model", "dcgan", "--help", "full")
    assert len(full.splitlines()) > 500
    for option in ("--trainer.gradient_clip_val", "--model.ngf NGF", "--fid.num_real", "--checkpoint.dirpath"):
        assert option in full  # options the summary leaves out

    model = help_of(capsys, "--model", "dcgan", "--help", "model")
    assert model.startswith("usage: python cli.py fit --model dcgan --data digits [--model.OPTION VALUE ...]")
    assert "--model.ngf NGF" in model and "(type: int, default: 32)" in model  # the recipe's value
    assert "--trainer." not in model and "--data." not in model
    assert len(model.splitlines()) < 100


def test_an_unknown_help_topic_is_one_line_naming_the_topics(capsys):
    assert cli.main(["fit", "--model", "dcgan", "--help", "modle"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "error: no help topic 'modle'; use --help, --help full or --help GROUP, GROUP one of: trainer, model, data, "
        "ema, progressive, samples, fid, nonfinite, checkpoint, wandb\n"
    )


def test_a_curated_name_the_parser_lacks_fails_loudly(capsys, monkeypatch):
    summary = (*help_summary.SUMMARY, ("budget", ("trainer.max_kilo_images", "trainer.max_steps")))
    monkeypatch.setattr(help_summary, "SUMMARY", summary)
    assert cli.main(["fit", "--model", "dcgan", "--help"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "error: the --help summary lists trainer.max_kilo_images, which python cli.py fit --model dcgan --data digits "
        "does not take: fix SUMMARY\n"
    )


def test_every_model_and_data_source_takes_the_curated_model_and_data_options(capsys):
    """The model and data groups differ between entries (the trainer and callback groups are the same for all):
    every entry's and every data source's constructor has the curated names, and StyleGAN2's parser, the one most
    unlike DCGAN's, builds the summary."""
    from datamodules import DATAMODULES, get_datamodule
    from zoo.registry import init_parameters

    curated = [name for _, names in help_summary.SUMMARY for name in names]
    for group, registry, lookup in (("model", zoo.MODELS, zoo.get_model), ("data", DATAMODULES, get_datamodule)):
        wanted = {name.split(".", 1)[1] for name in curated if name.startswith(f"{group}.")}
        assert wanted, group
        for entry in registry:
            assert wanted <= init_parameters(lookup(entry)), (group, entry, wanted - init_parameters(lookup(entry)))
    text = help_of(capsys, "--model", "stylegan2", "--help")
    assert "  --model.g_lr null " in text  # StyleGAN2's lr comes from its preset
    assert "  --trainer.max_kimg 192.0 (recipe; default null)  stop at the first iteration" in text

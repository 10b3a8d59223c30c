"""StyleGAN2's training step against NVlabs' stylegan2-ada-pytorch, one iteration (issue 23).

Replays the fixtures of tests/fixtures/nvlabs_phases (made by running NVlabs' ``StyleGAN2Loss`` and its
training loop's phases and lazy-corrected Adam on the CPU; the README there says how) through the zoo: their
initial weights imported into the zoo's StyleGAN2 (zoo/importers/nvlabs.py key mapping), their reals, latents,
labels and path-length noise, const synthesis noise, no style mixing; the phases Gmain, Greg, Dmain, Dreg in
order with the zoo's ``StyleGAN2.phase_loss``, ``zero_missing_gradients`` and the optimizers of
``configure_optimizers`` (lr * c, betas ** c). Tabulates, per phase and quantity, the largest relative
difference max |zoo - nvlabs| / max |nvlabs| (the worst tensor for gradients and parameters).

    python benchmarks/nvlabs_phases.py            # prints the table
    python benchmarks/nvlabs_phases.py --record   # also writes it into benchmarks/RESULTS.md

Targets (tests/test_stylegan2_phases.py): losses 1e-5, gradients 1e-4, parameters after the iteration 1e-5.
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.results import record_block
from zoo.importers import nvlabs
from zoo.stylegan2 import StyleGAN2, zero_missing_gradients

FIXTURES = ROOT / "tests" / "fixtures" / "nvlabs_phases"
KINDS = ("uncond", "cond")
PHASES = ("Gmain", "Greg", "Dmain", "Dreg")
#: the value each phase backpropagates, as NVlabs reports it per sample (training_stats), before its gain
REPORTED_LOSS = {"Gmain": "Loss/G/loss", "Greg": "Loss/G/reg", "Dmain": "Loss/D/loss", "Dreg": "Loss/D/reg"}


def relative(ours: torch.Tensor, theirs: torch.Tensor) -> float:
    """max |ours - theirs| / max |theirs|."""
    return ((ours.double() - theirs.double()).abs().max() / theirs.double().abs().max().clamp_min(1e-30)).item()


def load(kind: str) -> dict:
    return torch.load(FIXTURES / f"{kind}.pt", weights_only=True)


def zoo_model(fixture: dict) -> StyleGAN2:
    """The zoo's StyleGAN2 with the fixture's settings and NVlabs' initial weights, synthesis noise const."""
    cfg = fixture["config"]
    if cfg["D_reg_interval"] != 16:  # the zoo's default R1 interval, which r1_gamma keeps
        raise ValueError("the fixture's D_reg_interval is not 16")
    model = StyleGAN2(
        num_classes=10 if fixture["c_dim"] else None, resolution=cfg["res"], channels=cfg["channels"],
        latent_dim=cfg["z_dim"], w_dim=cfg["w_dim"], mapping_layers=cfg["map"], channel_base=cfg["channel_base"],
        channel_max=cfg["channel_max"], mbstd_group=cfg["mbstd"], r1_gamma=cfg["r1_gamma"],
        pl_weight=cfg["pl_weight"], pl_decay=cfg["pl_decay"], pl_batch_shrink=cfg["pl_batch_shrink"],
        pl_interval=cfg["G_reg_interval"], style_mixing=cfg["style_mixing_prob"], g_lr=cfg["lr"], d_lr=cfg["lr"],
        g_betas=tuple(cfg["betas"]), d_betas=tuple(cfg["betas"]), schedule="nvlabs",
    )  # fmt: skip
    model.generator.load_state_dict(nvlabs.generator_state(fixture["initial"]["G"]))
    model.discriminator.load_state_dict(nvlabs.discriminator_state(fixture["initial"]["D"], cfg["res"]))
    synthesis = model.generator.synthesis
    synthesis.forward = functools.partial(type(synthesis).forward, synthesis, noise_mode="const")
    model._latent_rng = torch.Generator()
    return model


def replay(fixture: dict, their_gradients: bool = False) -> dict:
    """The zoo's iteration on the fixture's inputs: per phase its loss, its gradients (NVlabs' names), pl_mean
    and w_avg after it, the optimizers' lr and betas, and the networks' states (NVlabs' names) at the end.
    ``their_gradients``: each step applies NVlabs' gradients of the phase instead of the zoo's (the optimizers
    alone under test)."""
    model = zoo_model(fixture)
    inputs, conditional = fixture["inputs"], bool(fixture["c_dim"])
    y_real = inputs["real_labels"] if conditional else None
    d_opt, g_opt = model.configure_optimizers()
    names = {"G": nvlabs_names(fixture["initial"]["G"], "G"), "D": nvlabs_names(fixture["initial"]["D"], "D", model)}
    out = {"optimizer": {"G": g_opt.param_groups[0], "D": d_opt.param_groups[0]}, "phases": {}}
    for index, phase in enumerate(model.due_phases(0)):
        g_phase = phase[0] == "G"
        network, other = (model.generator, model.discriminator) if g_phase else (model.discriminator, model.generator)
        opt = g_opt if g_phase else d_opt
        network.requires_grad_(True)
        other.requires_grad_(False)  # as Lightning's toggled_optimizer
        if phase == "Greg":  # the path-length directions: the first draw after seeding, as the fixture's
            model._latent_rng.manual_seed(inputs["pl_seed"])
        y_fake = inputs["gen_labels"][index] if conditional else None
        loss = model.phase_loss(phase, inputs["reals"], y_real, inputs["gen_z"][index], y_fake, {})
        opt.zero_grad(set_to_none=True)
        loss.backward()
        zero_missing_gradients(network)
        grads = {names[phase[0]][key]: p.grad.clone() for key, p in network.named_parameters()}
        if their_gradients:
            for key, param in network.named_parameters():
                param.grad.copy_(fixture["phases"][phase]["grads"][names[phase[0]][key]])
        opt.step()
        out["phases"][phase] = {
            "loss": loss.detach(),
            "grads": grads,
            "pl_mean": model.pl_mean.clone(),
            "w_avg": model.generator.mapping.w_avg.clone(),
        }
    out["after"] = {
        "G": {names["G"][k]: v for k, v in model.generator.state_dict().items()},
        "D": {names["D"][k]: v for k, v in model.discriminator.state_dict().items()},
    }
    return out


def nvlabs_names(state: dict, network: str, model: StyleGAN2 | None = None) -> dict[str, str]:
    """The zoo's tensor names -> NVlabs' (the importer's mapping, inverted)."""
    resolution = None if model is None else model.hparams.resolution
    inverse = {}
    for key, tensor in state.items():
        one = {key: tensor}
        mapped = nvlabs.generator_state(one) if network == "G" else nvlabs.discriminator_state(one, resolution)
        inverse[next(iter(mapped))] = key
    return inverse


def gradient_difference(ours: dict, theirs: dict) -> float:
    """The worst tensor's max |ours - theirs| / max |theirs|, the denominator at least 1% of the phase's largest
    gradient: R1's gradients of D's biases are zero but for rounding (~1e-8), where relative numbers mean nothing."""
    if set(ours) != set(theirs):
        raise AssertionError(f"gradients of {sorted(set(ours) ^ set(theirs))} exist on one side only")
    floor = 0.01 * max(v.abs().max().item() for v in theirs.values())
    return max((ours[k] - v).abs().max().item() / max(v.abs().max().item(), floor) for k, v in theirs.items())


def comparisons(kind: str) -> list[tuple[str, str, float, float]]:
    """(phase, quantity, max relative difference, tolerance) of the zoo's iteration against fixture ``kind``."""
    fixture = load(kind)
    ours, cfg, rows = replay(fixture), fixture["config"], []
    for network, group in ours["optimizer"].items():
        c = cfg[f"{network}_reg_interval"] / (cfg[f"{network}_reg_interval"] + 1)
        expected = torch.tensor([cfg["lr"] * c, *(beta**c for beta in cfg["betas"])])
        actual = torch.tensor([group["lr"], *group["betas"]])
        rows.append((f"{network} Adam", "lr * c, betas ** c", relative(actual, expected), 1e-7))
    if list(ours["phases"]) != list(PHASES):
        raise AssertionError(f"the zoo's phases at iteration 0 are {list(ours['phases'])}, NVlabs' {list(PHASES)}")
    for phase in PHASES:
        theirs, mine = fixture["phases"][phase], ours["phases"][phase]
        reference_loss = theirs["reported"][REPORTED_LOSS[phase]].double().mean() * theirs["gain"]
        rows.append((phase, "loss (times gain)", relative(mine["loss"], reference_loss), 1e-5))
        count = len(theirs["grads"])
        rows.append((phase, f"gradients ({count} tensors)", gradient_difference(mine["grads"], theirs["grads"]), 1e-4))
        rows.append((phase, "w_avg after", relative(mine["w_avg"], theirs["w_avg"]), 1e-5))
        if phase == "Greg":
            rows.append((phase, "pl_mean after", relative(mine["pl_mean"], theirs["pl_mean"]), 1e-5))
    optimizers_only = replay(fixture, their_gradients=True)
    for label, result, tolerance in (("zoo's", ours, 1e-4), ("NVlabs'", optimizers_only, 1e-6)):
        for network in ("G", "D"):
            theirs = fixture["after"][network]
            worst = max(relative(result["after"][network][k], v) for k, v in theirs.items())
            quantity = f"{network} parameters and buffers ({len(theirs)} tensors), stepped with {label} gradients"
            rows.append(("after", quantity, worst, tolerance))
    return rows


def table() -> str:
    lines = [
        "StyleGAN2's iteration (phases Gmain, Greg, Dmain, Dreg at iteration 0, lazy-corrected Adam) against NVlabs'",
        "stylegan2-ada-pytorch on the fixtures of tests/fixtures/nvlabs_phases (16 px, widths 12, z/w 16, batch 4;",
        "const noise, no style mixing), one CPU thread as the fixtures were made. Relative difference: the worst",
        "tensor's max |zoo - nvlabs| / max |nvlabs| (for gradients the denominator is at least 1% of the phase's",
        "largest gradient). Parameters stepped with NVlabs' gradients test the optimizers alone; with the zoo's",
        "gradients, Adam's first step lr g / (|g| + 1e-8) magnifies rounding where an element's gradient is ~0 (a",
        "generator weight whose Gmain gradient is 1e-10 moves by 3% of lr more or less). Command:",
        "`python benchmarks/nvlabs_phases.py --record`.",
        "",
        "| fixture | phase | quantity | max relative difference | tolerance (tests) |",
        "|---|---|---|---|---|",
    ]
    for kind in KINDS:
        lines += [
            f"| {kind} | {phase} | {quantity} | {value:.1e} | {tolerance:.0e} |"
            for phase, quantity, value, tolerance in comparisons(kind)
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--record", action="store_true", help="write the table into benchmarks/RESULTS.md")
    args = parser.parse_args()
    torch.set_num_threads(1)
    text = table()
    print(text)
    if args.record:
        record_block("nvlabs-phases", "StyleGAN2's training step against NVlabs' (one iteration)", text)


if __name__ == "__main__":
    main()

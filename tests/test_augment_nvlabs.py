"""The zoo's augmentation against its authors' code: NVlabs' AugmentPipe and ADA update (stylegan2-ada-pytorch) and
mit-han-lab's DiffAugment, from the fixtures in tests/fixtures/nvlabs_ada and tests/fixtures/diffaugment (their
READMEs say how they were made). One seeded generator gives the reference's random draws, so equal outputs also
check the order in which the parameters are drawn."""

import json
from pathlib import Path

import pytest
import torch

from zoo.augment import AdaAugment, AdaPipeline, draw_parameters
from zoo.augment.ada import PIPELINES
from zoo.augment.diffaugment import diff_augment, parse_policy

FIXTURES = Path(__file__).parent / "fixtures"
ADA = torch.load(FIXTURES / "nvlabs_ada" / "tensors.pt", weights_only=True)
ADA_CASES = json.loads((FIXTURES / "nvlabs_ada" / "cases.json").read_text())
DIFF = torch.load(FIXTURES / "diffaugment" / "tensors.pt", weights_only=True)
DIFF_CASES = json.loads((FIXTURES / "diffaugment" / "cases.json").read_text())
PIPE_CASES = [key for key, case in ADA_CASES.items() if "pipe" in case and not key.startswith("grad")]


def relative_error(x: torch.Tensor, reference: torch.Tensor) -> float:
    return float((x.detach() - reference).abs().max() / reference.abs().max())


def augmented(case: dict, images: torch.Tensor) -> torch.Tensor:
    generator = torch.Generator().manual_seed(case["seed"])
    return AdaPipeline(case["pipe"])(images, torch.tensor(case["p"]), generator)


@pytest.mark.parametrize("key", PIPE_CASES)
def test_each_group_and_bgc_reproduce_nvlabs_augment_pipe(key):
    case = ADA_CASES[key]
    assert relative_error(augmented(case, ADA[case["input"]]), ADA[f"{key}_out"]) < 1e-5


def test_input_gradient_through_bgc_equals_nvlabs():
    case = ADA_CASES["grad_bgc_rgb_p1"]
    images = ADA[case["input"]].clone().requires_grad_(True)
    out = augmented(case, images)
    out.square().sum().backward()
    assert relative_error(out, ADA["grad_bgc_rgb_p1_out"]) < 1e-5
    assert relative_error(images.grad, ADA["grad_bgc_rgb_p1_grad"]) < 1e-4


def test_parameters_are_the_gated_draws_in_the_reference_order():
    draws = [ADA[f"blit_rgb_p0.5_draw{i}"] for i in range(6)]  # value, gate for xflip, rotate90, xint
    params = draw_parameters(PIPELINES["blit"], 0.5, (4, 3, 16, 16), torch.Generator().manual_seed(101))
    assert torch.equal(params.xflip, torch.where(draws[1] < 0.5, torch.floor(draws[0] * 2), 0.0))
    assert torch.equal(params.rotate90, torch.where(draws[3] < 0.5, torch.floor(draws[2] * 4), 0.0))
    assert torch.equal(params.xint, torch.where(draws[5] < 0.5, (draws[4] * 2 - 1) * 0.125, 0.0))
    color = [ADA[f"color_rgb_p0.5_draw{i}"].flatten() for i in range(10)]
    params = draw_parameters(PIPELINES["color"], 0.5, (4, 3, 16, 16), torch.Generator().manual_seed(109))
    assert torch.equal(params.brightness, torch.where(color[1] < 0.5, color[0] * 0.2, 0.0))
    assert torch.equal(params.saturation, torch.where(color[9] < 0.5, torch.exp2(color[8] * 1.0), 1.0))


def test_ada_controller_p_sequence_equals_nvlabs_training_loop():
    case = ADA_CASES["controller"]
    ada = AdaAugment("bgc", 0.0, adaptive=True, target=case["target"], ada_kimg=case["ada_kimg"])
    sequence = []
    for iteration, logits in enumerate(ADA["controller_logits"], start=1):
        ada.observe_real_logits(logits)
        ada.end_iteration(iteration, case["batch"], reduce_sum=lambda stats: stats)
        sequence.append(ada.p.clone())
    assert torch.equal(torch.stack(sequence), ADA["controller_p"])


@pytest.mark.parametrize("key", list(DIFF_CASES))
def test_diffaugment_reproduces_the_authors_code(key):
    case = DIFF_CASES[key]
    generator = torch.Generator().manual_seed(case["seed"])
    assert torch.equal(diff_augment(DIFF[case["input"]], parse_policy(case["policy"]), generator), DIFF[key])

"""Injected transformer bugs (issue 23): each small engine in tests/engines/ makes --check say FAIL on a tiny
transformer (tests/tiny_transformer.py), at the layer where the bug lives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tiny_specs import tiny_task
from tiny_transformer import TRANSFORMER

from workbench.check import equivalence as eq
from workbench.check.all_checks import run_checks

TESTS = Path(__file__).resolve().parent
STEPS = 2
# engine module in tests/engines -> the first layer whose forward output must FAIL (the tiny spec's layer labels)
BUGS = {
    "pytorch_mask_polarity": "3 MultiHeadSelfAttention",
    "keras_layernorm_eps": "2 LayerNorm",
    "jax_tanh_gelu": "7 GELU",
    "jax_no_scale": "3 MultiHeadSelfAttention",
    "pytorch_heads_dh": "3 MultiHeadSelfAttention",
    "jax_softmax_query_axis": "3 MultiHeadSelfAttention",
}


@pytest.fixture(scope="module")
def bug_report() -> eq.Report:
    """--check (float64, forward and gradients: each bug shows in the forward pass) of the tiny transformer with every
    buggy engine, registered through the plugin hook: one check, each engine in its own child."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FRAMEBENCH_EXTRA_FRAMEWORKS", ",".join(f"{bug}=engines.{bug}" for bug in sorted(BUGS)))
        patch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH", "")) if p))
        spec = tiny_task(TRANSFORMER)
        X, y = eq.random_inputs(spec, 8 * STEPS, 0)
        config = eq.CheckConfig(batch_size=8, steps=STEPS, dtypes=("float64",), frameworks=tuple(sorted(BUGS)),
                                fd_samples=1, fd_coords=2, trajectories=False)
        return run_checks(spec, X, y, config, "random")


def test_the_tiny_inputs_hold_padding():
    """The mask bugs can only show if some keys are padding and most are not."""
    X, _ = eq.random_inputs(tiny_task(TRANSFORMER), 8 * STEPS, 0)
    assert 0.05 < (X == 0).mean() < 0.5


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_injected_transformer_bug_is_fail(bug, bug_report):
    report = bug_report
    assert bug not in report.skipped and bug not in report.errors, (report.skipped, report.errors)
    fails = [r for r in report.rows if r.status == "FAIL" and r.check == "forward" and r.pair == f"{bug} vs reference"]
    assert fails and fails[0].item.startswith(BUGS[bug]), [(r.item, r.max_abs) for r in fails]
    first = int(BUGS[bug].split()[0])
    before = [r for r in report.rows if r.check == "forward" and r.pair == f"{bug} vs reference" and r.item[0].isdigit()
              and int(r.item.split()[0]) < first]  # fmt: skip
    assert before and all(r.status == "OK" for r in before), [(r.item, r.status) for r in before]  # the layers before it agree

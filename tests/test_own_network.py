"""Bring your own network: the example spec files are checked against the float64 reference in every engine (their
dry run in every engine is test_templates.py's), and a user's own pytest can assert that their network is equivalent
across engines through workbench.api."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import assert_one_line_error, run_cli
from conftest_data import real_data_dir
from test_templates import UNSUPPORTED

from frameworks.base import FRAMEWORKS, missing_packages
from tasks.spec import count_params
from tasks.spec_file import read_spec_file
from workbench.check import equivalence as eq
from workbench.check.all_checks import run_checks_many

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.toml"))
ENGINES = [name for name in FRAMEWORKS if not missing_packages(name)]


# 5 steps, not the CLI's 50, of the spec's own optimizer only: the example's layers are the subject (every optimizer
# x engine is tests/test_optimizers.py's)
SMALL = eq.CheckConfig(batch_size=8, steps=5, fd_samples=2, fd_coords=4, frameworks=tuple(ENGINES), variants="spec")


@pytest.fixture(scope="module")
def example_reports() -> dict[str, eq.Report]:
    """--check of every example on its own data, every engine, each engine in one child for all of them."""
    data_dir = str(real_data_dir())
    specs = {p.stem: read_spec_file(p) for p in EXAMPLES}
    jobs = [(spec, *eq.task_inputs(spec.name, data_dir, SMALL.batch_size * SMALL.steps, 0, spec)) for spec in specs.values()]
    return dict(zip(specs, run_checks_many(jobs, SMALL)))


def test_cli_checks_a_spec_file():
    """`compare.py --spec FILE --check`, as a user runs it (at the CLI's full size, every optimizer variant): the
    cheapest engine; every engine's check of every example is test_example_checks_equal_in_every_engine's."""
    example = str(ROOT / "examples" / "residual_mlp_digits.toml")
    done = run_cli("--spec", example, "--frameworks", "pytorch", "--check", timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    for part in ("Trajectory, float64", "worst of 50", "pytorch vs reference"):
        assert part in done.stdout, part
    counts = done.stdout.strip().splitlines()[-2]
    assert counts.startswith("rows:") and " 0 FAIL" in counts and "OK" in counts


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_example_checks_equal_in_every_engine(example, example_reports):
    report = example_reports[example.stem]
    assert "random" not in report.inputs, report.inputs  # the example's own data
    assert not report.failed and not report.errors, ([r for r in report.rows if r.status == "FAIL"][:5], report.errors)
    for engine in ENGINES:
        if (engine, example.stem) in UNSUPPORTED:
            assert report.skipped[engine].startswith(UNSUPPORTED[engine, example.stem])
        else:
            assert any(r.pair == f"{engine} vs reference" and r.check == "trajectory" and r.status in ("OK", "DOWNCAST")
                       for r in report.rows), engine  # fmt: skip


def test_my_network_is_equivalent_across_engines():
    """What a user's own test looks like: their spec file, two engines, the float64 reference."""
    from workbench import api

    report = api.check(spec=str(ROOT / "examples" / "residual_mlp_digits.toml"), frameworks=("pytorch", "jax"))
    assert not report.failed and "pytorch vs reference" in report.text
    comparison = api.compare(spec=str(ROOT / "examples" / "residual_mlp_digits.toml"), frameworks=("pytorch",),
                             epochs=1, quiet=True)  # fmt: skip
    assert comparison.ok and comparison.meta.task == "residual_mlp"


def test_a_spec_object_runs_too():
    from workbench import api

    spec = read_spec_file(ROOT / "examples" / "lenet5_digits.toml")
    comparison = api.compare(spec=spec, frameworks=("pytorch",), epochs=1, quiet=True, dry_run=True)
    assert comparison.ok and comparison.results[0].params == count_params(spec.model)


def test_cli_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text((ROOT / "examples" / "lenet5_digits.toml").read_text().replace('type = "Flatten"', 'type = "Flaten"'))
    assert_one_line_error(run_cli("--spec", str(bad), "--dry-run"), 2, "model.layers[6].type: unknown type 'Flaten'")
    assert_one_line_error(run_cli("--spec", str(EXAMPLES[0]), "--task", "digits"), 2, "--spec and --task")
    assert_one_line_error(run_cli("--spec", str(EXAMPLES[0]), "--model", "gru"), 2, "drop --model")
    data = tmp_path / "net.toml"
    data.write_text('name = "x"\n[data]\nfile = "missing.npz"\nnum_classes = 2\n[model]\ninput_shape = [3]\n'
                    '[[model.layers]]\ntype = "Dense"\nunits = 2\n')  # fmt: skip
    assert_one_line_error(run_cli("--spec", str(data), "--dry-run"), 3, "data.file", "no such file")

"""--spec with the run flags of issue 27 #1: --export (signed, then verified again), --repeats 2 and --executor ray.

One compare.py run covers all three: the residual MLP example (embedded digits, no data folder), one epoch, JAX (its
export is weights.npz alone: the cheapest to check again), on a local Ray instance that compare.py starts itself.
"""

from __future__ import annotations

import json
import tomllib

import pytest
from cli_helpers import ROOT, run_cli
from test_faults import assert_no_traceback

from tasks.spec_file import SpecFileError, read_spec_file
from workbench import api
from workbench.deploy.manifest import ArtifactError
from workbench.run.result import load_results

pytest.importorskip("ray")

EXAMPLE = ROOT / "examples" / "residual_mlp_digits.toml"
KEY = bytes(range(32))  # the signing key written to a file for --signing-key


@pytest.fixture(scope="module")
def spec_run(tmp_path_factory):
    """The one subprocess: (the completed process, the results file, the export folder)."""
    folder = tmp_path_factory.mktemp("spec_flags")
    (folder / "key").write_bytes(KEY)
    out, export = folder / "results.json", folder / "export"
    proc = run_cli("--spec", str(EXAMPLE), "--frameworks", "jax", "--epochs", "1", "--repeats", "2",
                   "--executor", "ray", "--threads", "1", "--export", str(export), "--signing-key", str(folder / "key"),
                   "--output", str(out), "--quiet")  # fmt: skip
    return proc, out, export


def test_repeats_on_ray_run_every_seed(spec_run):
    proc, out, _ = spec_run
    assert proc.returncode == 0, proc.stderr
    assert_no_traceback(proc)
    meta, rows = load_results(out)
    assert meta["executor"] == "ray" and meta["task"] == "residual_mlp" and meta["spec_lines"]
    assert [(r.framework, r.seed, r.status, r.epochs) for r in rows] == [("jax", 0, "ok", 1), ("jax", 1, "ok", 1)]
    assert rows[0].test_acc != rows[1].test_acc  # seeds 0 and 1: different initial weights and batch order
    assert "Summary over seeds" in proc.stdout and "spec: residual_mlp: Residual MLP" in proc.stdout


def test_exports_are_signed_and_verify_again(spec_run):
    _, _, export = spec_run
    assert sorted(p.name for p in export.iterdir()) == ["residual_mlp-jax-spec-seed0", "residual_mlp-jax-spec-seed1"]
    verified = api.verify(export / "residual_mlp-jax-spec-seed0", KEY)  # what --verify-export DIR --signing-key FILE runs
    assert [(r.task, r.framework) for r in verified] == [("residual_mlp", "jax")]
    weights = [record for record in verified[0].exports if record.artifact == "weights.npz"]
    assert len(weights) == 1 and weights[0].status == "ok" and weights[0].max_abs == 0, verified[0].exports
    (export / "residual_mlp-jax-spec-seed1" / "weights.npz").write_bytes(b"changed")  # refused before any reload
    with pytest.raises(ArtifactError, match="residual_mlp-jax-spec-seed1"):
        api.verify(export / "residual_mlp-jax-spec-seed1", KEY)



# Values the reader refuses at once (before, some failed inside an engine's row, or fell back silently): (table, key,
# value) set in the residual example, and the one line; table "layer" appends a layer before the logits
OUT_OF_RANGE = [
    ("init", "kernel", "os.system", "init.kernel: 'os.system' is not one of glorot_uniform, he_uniform, fan_in_uniform"),
    ("init", "recurrent", "zeros", "init.recurrent: 'zeros' is not one of orthogonal, glorot_uniform"),
    ("train", "seed", -1, "train.seed -1: must be >= 0"),
    ("train", "lr_decay", 0.0, "train.lr_decay 0.0: must be > 0 (1: a constant lr)"),
    ("tolerances", "forward64", -1e-10, "tolerances.forward64 -1e-10: must be a finite number >= 0"),
    ("layer", "Dropout", {"rate": 1.0}, "model.layers[8].rate 1.0 (Dropout): must be >= 0 and < 1"),
    ("layer", "LayerNorm", {"eps": 0.0}, "model.layers[8].eps 0.0 (LayerNorm): must be > 0"),
]


@pytest.mark.parametrize("table, key, value, message", OUT_OF_RANGE, ids=[m.split(":")[0] for *_, m in OUT_OF_RANGE])
def test_values_out_of_range_are_one_line_errors(tmp_path, table, key, value, message):
    spec = tomllib.loads(EXAMPLE.read_text())
    if table == "layer":
        spec["model"]["layers"].insert(8, {"name": "extra", "type": key, **value})
    else:
        spec.setdefault(table, {})[key] = value
    path = tmp_path / "net.json"  # the same structure as JSON
    path.write_text(json.dumps(spec))
    with pytest.raises(SpecFileError) as caught:
        read_spec_file(path)
    assert str(caught.value) == f"{path}: {message}"

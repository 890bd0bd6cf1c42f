"""The numerics of compilation (`--check --mode compiled`): each engine's compiled mode against its eager mode and the
float64 reference, on the check's weights and batches.

For every engine with both modes (frameworks.base.MODE_NAMES in its MODES), in every dtype, three figures are measured
in each mode: the logits (evaluation mode), the training-mode loss gradients (where the engine has them), and every
weight after STEPS optimizer steps. The rule (torch's dynamo benchmarks, torch._dynamo.utils.same with an fp64 ref):

    float32:  rmse(compiled - fp64) <= MULTIPLIER * rmse(eager - fp64) + tol,  tol = spec float32 tolerance x the
              largest |fp64 value| / 10 (dynamo's tol / 10, made relative to the figure's scale as the other checks)
    float64:  max |compiled - fp64| <= the spec's float64 tolerance (an engine computing float64 in float32, as its
              DTYPES declare, is judged by the float32 rule)

Compilation may reorder and fuse float32 operations, so a compiled row may differ from eager by rounding, but not by
more than twice eager's own rounding error: a wrong constant in a fused kernel shows as a FAIL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import ModuleType

import numpy as np
from tabulate import tabulate

from frameworks.base import DEFAULT_MODES, MODE_NAMES, RunSettings, engine, missing_packages
from tasks import reference
from tasks.spec import TaskSpec, Weights
from tasks.spec_io import spec_from_json, spec_to_json
from workbench.check.equivalence import REFERENCE, CheckConfig, check_spec, check_weights
from workbench.check.measure import cancelled
from workbench.process.adapters import row_device
from workbench.process.ask import AskError, ask

MULTIPLIER = 2.0  # dynamo's multiplier for float32 (3 for float16/bfloat16)
STEPS = 3  # optimizer steps before the weights are compared
EAGER, COMPILED = MODE_NAMES


@dataclass(frozen=True)
class ModeRow:
    """One figure of one engine in one dtype: compiled and eager against the float64 reference, and the verdict."""

    framework: str
    dtype: str
    item: str  # "logits", "gradients", "weights after 3 steps"
    compiled_err: float  # rmse(compiled - fp64) for float32, max |compiled - fp64| for float64
    eager_err: float  # the same measure of the eager mode
    compiled_vs_eager: float  # max |compiled - eager|
    bound: float  # what compiled_err must not exceed
    status: str  # OK | FAIL


def _measure(module: ModuleType, spec: TaskSpec, settings: RunSettings, model: str, weights: Weights, batches: list,
             has_gradients: bool) -> dict[str, np.ndarray]:  # fmt: skip
    """Logits, gradients and the weights after STEPS steps of one network in one mode and dtype."""
    module.configure(settings)
    network = module.create(spec, settings, model)
    network.build(weights)
    X0, y0 = batches[0]
    network.set_train_data(X0, y0)
    out = {"logits": np.asarray(network.predict(X0))}
    if has_gradients:
        out.update({f"grad/{k}": v for k, v in network.loss_and_gradients(X0, y0)[1].items()})
    for X, y in batches:
        network.train_step(X, y)
    out.update({f"weights/{k}": v for k, v in network.get_weights().items()})
    return out


def answer(module: ModuleType, request: dict, arrays: dict[str, np.ndarray]) -> tuple[dict, dict[str, np.ndarray]]:
    """In the engine's child: its modes, and every figure in each of its eager and compiled modes and each dtype."""
    spec = spec_from_json(request["spec"])
    modes = getattr(module, "MODES", DEFAULT_MODES)
    facts = {"modes": list(modes), "dtypes": module.DTYPES, "unbiased": bool(module.UNBIASED_MOVING_VAR), "refused": ""}
    refusal = module.unsupported(spec)
    missing = [m for m in MODE_NAMES if m not in modes]
    check = getattr(module, "mode_unsupported", None)
    refusal = refusal or (f"one mode only ({', '.join(modes)})" if missing else "")
    refusal = refusal or next((r for m in MODE_NAMES if check and (r := check(spec, m))), "")
    if refusal:
        return {**facts, "refused": refusal}, {}
    weights = {k[2:]: v for k, v in arrays.items() if k.startswith("w/")}
    b = spec.train.batch_size
    batches = [(arrays["X"][i * b : (i + 1) * b], arrays["y"][i * b : (i + 1) * b]) for i in range(STEPS)]
    out: dict[str, np.ndarray] = {}
    for dtype in request["dtypes"]:
        for mode in MODE_NAMES if dtype in module.DTYPES else ():
            settings = RunSettings(device=request["device"], threads=request["threads"], dtype=dtype,
                                   seed=spec.train.seed, progress=False, mode=mode)  # fmt: skip
            figures = _measure(module, spec, settings, request["model"], weights, batches, module.HAS_GRADIENTS)
            out.update({f"{dtype}/{mode}/{k}": v for k, v in figures.items()})
    return facts, out


def _rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(a, np.float64) - b) ** 2))) if np.size(b) else 0.0


def _flat(arrays: dict[str, np.ndarray], prefix: str, keys: list[str]) -> np.ndarray:
    return np.concatenate([np.ravel(arrays[prefix + k]).astype(np.float64) for k in keys]) if keys else np.zeros(0)


def judge_figure(framework: str, dtype: str, item: str, compiled: np.ndarray, eager: np.ndarray, ref: np.ndarray,
                 tol32: float, tol64: float, downcast: bool) -> ModeRow:  # fmt: skip
    """The rule of the module docstring for one figure (flattened arrays of the same order)."""
    apart = float(np.max(np.abs(compiled - eager))) if compiled.size else 0.0
    if dtype == "float64" and not downcast:
        c_err, e_err = (float(np.max(np.abs(x - ref))) if ref.size else 0.0 for x in (compiled, eager))
        bound = tol64
    else:
        c_err, e_err = _rmse(compiled, ref), _rmse(eager, ref)
        bound = MULTIPLIER * e_err + tol32 * (float(np.max(np.abs(ref))) if ref.size else 0.0) / 10
    status = "OK" if math.isfinite(c_err) and c_err <= bound else "FAIL"
    return ModeRow(framework, dtype, item, c_err, e_err, apart, bound, status)


def engine_rows(name: str, spec: TaskSpec, weights: Weights, batches: list, facts: dict, out: dict) -> list[ModeRow]:
    """Every figure of one engine in every dtype it measured, judged against the float64 reference."""
    t, X0, y0 = spec.tolerances, *batches[0]
    ref_logits = reference.forward_layers(spec.model, weights, X0)[-1][1]
    _, ref_grads = reference.loss_and_gradients(spec.model, weights, X0, y0)
    final = reference.trajectory(spec.model, weights, batches, spec.optimizer, facts["unbiased"], None)[-1]
    noise = cancelled(spec.model)  # weights whose steps follow rounding noise: not judged (as the trajectory check)
    rows = []
    for dtype in dict.fromkeys(k.split("/")[0] for k in out):
        downcast = facts["dtypes"].get(dtype) == "float32" and dtype != "float32"
        p_c, p_e = f"{dtype}/{COMPILED}/", f"{dtype}/{EAGER}/"
        grads = sorted(k[len(p_c) + 5:] for k in out if k.startswith(p_c + "grad/"))
        kept = sorted(k for k in final if k not in noise and p_c + "weights/" + k in out)
        figures = [("logits", out[p_c + "logits"].ravel(), out[p_e + "logits"].ravel(), np.ravel(ref_logits),
                    t.forward32, t.forward64)]  # fmt: skip
        if grads:
            figures.append(("gradients", _flat(out, p_c + "grad/", grads), _flat(out, p_e + "grad/", grads),
                            _flat(ref_grads, "", grads), t.grad32, t.grad64))  # fmt: skip
        figures.append((f"weights after {len(batches)} steps", _flat(out, p_c + "weights/", kept),
                        _flat(out, p_e + "weights/", kept), _flat(final, "", kept), t.trajectory32, t.trajectory64))  # fmt: skip
        rows += [judge_figure(name, dtype, item, c.astype(np.float64), e.astype(np.float64), r, tol32, tol64, downcast)
                 for item, c, e, r, tol32, tol64 in figures]  # fmt: skip
    return rows


@dataclass
class ModesReport:
    """The compiled-mode check: its rows, the engines it could not compare and why, the ones whose child failed."""

    rows: list[ModeRow]
    skipped: dict[str, str]
    errors: dict[str, str]

    @property
    def failed(self) -> bool:
        """A FAIL row, or an engine whose check ended in an error."""
        return any(r.status == "FAIL" for r in self.rows) or bool(self.errors)


def check_modes(spec: TaskSpec, X: np.ndarray, y: np.ndarray, config: CheckConfig) -> ModesReport:
    """Ask every framework of the config for its figures in both modes (one child each) and judge them."""
    spec = check_spec(spec, config.batch_size)
    weights = check_weights(spec, config.seed)
    b = config.batch_size
    batches = [(X[i * b : (i + 1) * b], y[i * b : (i + 1) * b]) for i in range(STEPS)]
    arrays = {"X": np.concatenate([x for x, _ in batches]), "y": np.concatenate([t for _, t in batches]),
              **{f"w/{k}": v for k, v in weights.items()}}  # fmt: skip
    report = ModesReport([], {}, {})
    for name in config.frameworks:
        missing = missing_packages(name)
        if missing:
            report.skipped[name] = f"not installed: {', '.join(missing)}"
            continue
        request = {"spec": spec_to_json(spec), "dtypes": list(config.dtypes), "threads": config.threads,
                   "model": engine(name).spec_model, "device": row_device(name, config.device)}  # fmt: skip
        try:
            facts, out = ask(answer, name, request, arrays, threads=config.threads)
        except AskError as exc:
            report.errors[name] = f"{exc.kind}: {str(exc).split(': ', 1)[-1]}"
            continue
        if facts["refused"]:
            report.skipped[name] = facts["refused"]
            continue
        report.rows += engine_rows(name, spec, weights, batches, facts, out)
    return report


def render_modes(report: ModesReport) -> str:
    """The compiled-mode table as text, with the rule and the result line."""
    head = (f"Compiled against eager, {STEPS} steps of batch size from the check (--check --mode compiled). float32: "
            f"rmse(compiled - fp64) <= {MULTIPLIER:g} x rmse(eager - fp64) + tol (the dynamo benchmarks' rule; tol: the spec's "
            "float32 tolerance x the largest |fp64 value| / 10); float64: max |compiled - fp64| <= the float64 tolerance")
    body = [[r.framework, r.dtype, r.item, f"{r.compiled_err:.3g}", f"{r.eager_err:.3g}", f"{r.compiled_vs_eager:.3g}",
             f"{r.bound:.3g}", r.status] for r in report.rows]  # fmt: skip
    headers = ["framework", "dtype", "figure", "compiled err", "eager err", "|compiled - eager|", "bound", "status"]
    lines = [head, *(f"skipped {n}: {why}" for n, why in report.skipped.items()),
             *(f"ERROR {n} (not checked): {why}" for n, why in report.errors.items())]  # fmt: skip
    if body:
        lines.append(tabulate(body, headers=headers, disable_numparse=True))
    lines.append("modes result: " + ("FAIL" if report.failed else "no FAIL"))
    return "\n".join(lines) + "\n"

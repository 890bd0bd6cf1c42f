"""Planning a comparison: check the Options, resolve the spec and the device once, and lay out every row.

    options = check_options(Options(task="digits", frameworks=("pytorch",), epochs=1))
    plan = make_plan(options, resolve_device(options))      # RunPlan: one RunRequest per row, each with its spec

Every check raises UsageError (one line) before any row runs; compare.py and workbench.api share them.
"""

from __future__ import annotations

import functools
import importlib.util
import itertools
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

from frameworks.base import MODE_NAMES, PRECISION_NAMES, RunSettings, check_framework, engine, framework_names, missing_packages, model_names
from tasks import registry
from tasks.augment import AugmentError, describe as describe_augment, with_augment
from tasks.optimizers import describe
from tasks.overrides import with_overrides
from tasks.reference import ONE_LOGIT_LOSSES
from tasks.spec import TaskSpec
from tasks.spec_check import SpecCheckError, check_model
from tasks.spec_file import SpecFileError, read_spec_file, resolved_lines
from tasks.spec_io import spec_to_json
from tasks.user_data import load_spec_data
from workbench.deploy.export import export_row, row_folder
from workbench.deploy.weights_file import load_weights
from workbench.errors import UsageError
from workbench.options import (AUGMENT_MODES, DEVICES, DTYPES, INTEGERS, MAX_SEED, NUMBERS, REPEATS_WARNING, REQUIRED_NUMBERS,
                               SWEEP_KEYS, THREADS_VAR, Options, threads_from_env)
from workbench.process.adapters import row_device
from workbench.process.ask import function_path
from workbench.process.files import UnsafeTarget, check_target, is_writable, resolve
from workbench.report.html import PAGE_NAME
from workbench.report.markdown import PLOT_NAME, REPORT_NAME, RESULTS_NAME
from workbench.report.tables import FORMATS, config_title
from workbench.run.devices import Resolution, resolve_for
from workbench.run.execute import EXECUTORS
from workbench.run.meta import RunMeta
from workbench.run.ray_executor import require_ray
from workbench.run.request import RunRequest
from workbench.run.result import RunResult
from workbench.run.runner import RunPlan

COMPILE_MODES = ("eager", "compiled")  # what --compile asks for


def flag(name: str) -> str:
    """An Options field as its compare.py flag: batch_size -> --batch-size."""
    return "--" + name.replace("_", "-")


@functools.lru_cache(maxsize=8)
def _spec_file(path: str) -> TaskSpec:
    try:
        return read_spec_file(path)
    except SpecFileError as exc:
        raise UsageError(str(exc)) from None


def base_spec(options: Options) -> TaskSpec:
    """The spec before the options' overrides: a spec file's (or the API's TaskSpec), else the task's variant."""
    if options.spec is None:
        return registry.get(options.task).variant(options.variant)
    return options.spec if isinstance(options.spec, TaskSpec) else _spec_file(str(Path(options.spec).resolve()))


def task_spec(options: Options) -> TaskSpec:
    """The task's spec (its variant's, or the spec file's) with the options' overrides: what --explain, --check and the
    header read."""
    return with_overrides(base_spec(options), epochs=options.epochs,
                          batch_size=options.batch_size, lr=options.lr, seed=options.seed, optimizer=options.optimizer,
                          weight_decay=options.weight_decay, loss=options.loss)  # fmt: skip


def row_spec(spec: TaskSpec, options: Options, config: dict, seed: int) -> TaskSpec:
    """One row's spec: the options' spec with the row's sweep values and seed, its augmentation, one epoch if a dry run."""
    epochs = 1 if options.dry_run else config.get("epochs")
    row = with_overrides(spec, epochs=epochs, batch_size=config.get("batch_size"), lr=config.get("lr"), seed=seed)
    return with_augment(row, options.augment)


def sweep_grid(texts: tuple[str, ...]) -> dict[str, list]:
    """("lr=1e-3,3e-3", "batch_size=64,128") -> {"lr": [0.001, 0.003], "batch_size": [64, 128]}."""
    grid: dict[str, list] = {}
    for text in texts:
        key, sep, values = text.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key or not values.strip():
            raise UsageError(f"--sweep {text!r}: expected KEY=V1,V2,... with KEY one of {', '.join(SWEEP_KEYS)}")
        if key not in SWEEP_KEYS:
            raise UsageError(f"--sweep {text}: unknown key {key!r} (valid: {', '.join(SWEEP_KEYS)})")
        if key in grid:
            raise UsageError(f"--sweep {key} is given twice: put all its values in one --sweep {key}=V1,V2")
        parsed = []
        for value in values.split(","):
            try:
                parsed.append(SWEEP_KEYS[key](value.strip()))
            except ValueError as exc:
                raise UsageError(f"--sweep {text}: {exc}") from None
            if parsed[-1] in parsed[:-1]:
                raise UsageError(f"--sweep {text}: the value {value.strip()} is repeated")
        grid[key] = parsed
    return grid


def framework_list(names: tuple[str, ...]) -> tuple[str, ...]:
    """The frameworks by name: ("all",) is every installed framework, in registry order."""
    if tuple(names) == ("all",):
        return tuple(name for name in framework_names() if not missing_packages(name))
    names = tuple(n.strip() for n in names if n.strip())
    if not names:
        raise UsageError("--frameworks is empty")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise UsageError(f"--frameworks names {', '.join(repeated)} twice: each framework runs once per seed (see --repeats)")
    for name in names:
        check_framework(name)
    return names


def mode_list(options: Options) -> tuple[str, ...]:
    """The modes asked for, checked: --compile as eager,compiled; () for each engine's default mode."""
    modes = COMPILE_MODES if options.compile else tuple(m.strip() for m in options.mode if m.strip())
    for mode in modes:
        if mode not in MODE_NAMES:
            raise UsageError(f"unknown --mode {mode!r}: use {' or '.join(MODE_NAMES)} (comma-separated for both)")
    repeated = sorted({mode for mode in modes if modes.count(mode) > 1})
    if repeated:
        raise UsageError(f"--mode names {', '.join(repeated)} twice")
    return modes


def check_conflicts(options: Options) -> None:
    """Options that make no sense together: one line naming both."""
    if options.tf32 and options.precision not in ("fp32", "tf32"):
        raise UsageError(f"--tf32 cannot be combined with --precision {options.precision}: --tf32 means --precision tf32")
    if options.effective_precision != "fp32" and options.dtype != "float32":
        raise UsageError(f"--precision {options.effective_precision} needs --dtype float32 (it changes how float32 computes)")
    if options.compile and options.mode and tuple(options.mode) != COMPILE_MODES:
        raise UsageError(f"--compile means --mode {','.join(COMPILE_MODES)}: drop one of --compile and --mode")
    if options.in_process and options.timeout is not None:
        raise UsageError("--timeout cannot be enforced with --in-process (a row in this process cannot be stopped): "
                         "drop one")  # fmt: skip
    if options.ray_address is not None and options.executor != "ray":
        raise UsageError("--ray-address needs --executor ray")
    if options.in_process and options.executor == "ray":
        raise UsageError("--in-process cannot be combined with --executor ray (each Ray row runs in its own process)")
    resume, output = options.resume, options.output
    if resume is not None and output is not None and Path(output).resolve() != Path(resume).resolve():
        raise UsageError(f"--output {output} differs from --resume {resume}: a resumed run saves back into its file")


def check_values(options: Options) -> None:
    """Each field's type and range, as compare.py's flags check them (a library call reaches here without argparse)."""
    for name, check in NUMBERS.items():
        value = getattr(options, name)
        if value is None and name not in REQUIRED_NUMBERS:
            continue
        whole = isinstance(value, int) if check in INTEGERS else isinstance(value, (int, float))
        try:
            if isinstance(value, bool) or not whole:
                raise ValueError(f"expected a {'whole ' if check in INTEGERS else ''}number, got {value!r}")
            check(str(value))
        except ValueError as exc:
            raise UsageError(f"{flag(name)}: {exc}") from None
    for name, choices in (("device", DEVICES), ("dtype", DTYPES), ("precision", PRECISION_NAMES)):
        if getattr(options, name) not in choices:
            raise UsageError(f"unknown {flag(name)} {getattr(options, name)!r}: use {', '.join(choices)}")
    if options.augment is not None and options.augment not in AUGMENT_MODES:
        raise UsageError(f"unknown --augment {options.augment!r}: use {' or '.join(AUGMENT_MODES)}")


def check_options(options: Options) -> Options:
    """Every check before a row runs (UsageError, UnknownTaskError, UnknownFrameworkError), and the options resolved:
    the framework names listed, --tf32 as precision tf32, --export and --import-weights as absolute paths."""
    check_values(options)
    check_conflicts(options)
    if options.spec is not None:
        options = _with_spec_file(options)
    else:
        registry.get(options.task).variant(options.variant)  # unknown task or variant: one line naming the valid ones
    options = replace(options, frameworks=framework_list(options.frameworks), precision=options.effective_precision,
                      mode=mode_list(options), compile=False)  # fmt: skip
    for key in sweep_grid(options.sweep):
        if getattr(options, key) is not None:
            raise UsageError(f"--sweep {key} cannot be combined with {flag(key)}: put the value in the sweep")
    if options.executor not in EXECUTORS:
        raise UsageError(f"unknown --executor {options.executor!r}: use {' or '.join(EXECUTORS)}")
    if options.executor == "ray":
        require_ray()
    if options.format not in FORMATS:
        raise UsageError(f"unknown --format {options.format!r}: use a tabulate format ({', '.join(FORMATS[:6])}, ...), csv or json")
    _check_output_paths(options)
    if options.epochs == 0 and options.import_weights is None:
        raise UsageError("--epochs 0 evaluates imported weights: it needs --import-weights FILE")
    if options.export is not None:
        options = replace(options, export=str(_export_folder(options.export)))
    if options.import_weights is not None:  # the same file for every child
        options = replace(options, import_weights=str(safe_path("--import-weights", options.import_weights)))
    if options.data_dir is not None and safe_path("--data-dir", options.data_dir).exists() and not Path(options.data_dir).is_dir():
        raise UsageError(f"--data-dir {options.data_dir} is not a folder")
    _check_loss(options)
    _check_counts(options)
    try:
        with_augment(base_spec(options), options.augment)  # --augment needs a task that states one
    except AugmentError as exc:
        raise UsageError(f"--augment: {exc}") from None
    return options


def _with_spec_file(options: Options) -> Options:
    """--spec: the file read and its network checked (UsageError), its data read and checked (a DataError), before any
    row; the options' task becomes the spec's name."""
    if options.variant is not None:
        raise UsageError("--model picks a variant of a built-in task; a spec file is one network: drop --model")
    spec = base_spec(options)
    try:
        check_model(spec.model, spec.data.num_classes)  # a file was checked as it was read; an API TaskSpec is checked here
    except SpecCheckError as exc:
        raise UsageError(f"spec {spec.name}: {exc}") from None
    load_spec_data(spec, options.data_dir)  # UserDataError (a data error): the data cannot be used as stated
    path = options.spec if isinstance(options.spec, TaskSpec) else str(Path(options.spec).resolve())
    return replace(options, task=spec.name, spec=path)


def _check_loss(options: Options) -> None:
    """--loss must fit the task's output: one logit (binary) or one per class."""
    if options.loss is None:
        return
    task_loss = base_spec(options).model.loss
    if (options.loss in ONE_LOGIT_LOSSES) != (task_loss in ONE_LOGIT_LOSSES):
        kind = "one logit (binary)" if task_loss in ONE_LOGIT_LOSSES else "one logit per class"
        valid = [n for n in ("cross_entropy", *ONE_LOGIT_LOSSES) if (n in ONE_LOGIT_LOSSES) == (task_loss in ONE_LOGIT_LOSSES)]
        raise UsageError(f"--loss {options.loss} does not fit task {options.task} ({kind}): use {' or '.join(valid)}")


def _check_counts(options: Options) -> None:
    """Seeds NumPy and the baseline library take (the last one too: seed + repeats - 1); a warning for more threads than CPUs
    or a very long --repeats."""
    first = options.seed if options.seed is not None else base_spec(options).train.seed
    last = first + options.repeats - 1
    if last > MAX_SEED:
        asked = f"--seed {first}" + (f" with --repeats {options.repeats} reaches seed {last}, which" if first <= MAX_SEED else "")
        raise UsageError(f"{asked} is above {MAX_SEED} (2**32 - 1), the largest seed NumPy's generators take")
    cpus = os.cpu_count() or 1
    if os.environ.get(THREADS_VAR, "").strip() and threads_from_env() is None:
        print(f"framebench: warning: {THREADS_VAR}={os.environ[THREADS_VAR]!r} is not a positive integer: --threads "
              f"defaults to every core ({cpus})", file=sys.stderr)  # fmt: skip
    if options.threads > cpus:
        print(f"framebench: warning: --threads {options.threads} is more than this machine's {cpus} CPUs; rows will "
              f"compete for them", file=sys.stderr)  # fmt: skip
    if options.repeats > REPEATS_WARNING:
        print(f"framebench: warning: --repeats {options.repeats} runs every row {options.repeats} times "
              f"(seeds {first}..{last})", file=sys.stderr)  # fmt: skip


def check_writable(option: str, folder: Path) -> None:
    """A folder that cannot be written fails now, not after every row has run."""
    if not is_writable(folder):
        raise UsageError(f"{option} folder {folder} is not writable")


def _check_output_paths(options: Options) -> None:
    """--output a file in a writable folder; --plot a .png in one; --report and --tensorboard folders that can be written
    or created; --from only with something to build. Nothing is written over a FIFO, a device, a link or a folder."""
    if options.output is not None:
        folder = safe_path("--resume" if options.resume else "--output", options.output, file=True).parent  # saved into
        if not folder.is_dir():
            raise UsageError(f"--output folder {folder} does not exist")
        check_writable("--output", folder)
    if options.plot is not None:
        if Path(options.plot).suffix.lower() != ".png":
            raise UsageError(f"--plot {options.plot}: the file name must end in .png")
        folder = safe_path("--plot", options.plot, file=True).parent
        if not folder.is_dir():
            raise UsageError(f"--plot folder {folder} does not exist")
        check_writable("--plot", folder)
    if options.code is not None:
        _check_output_folder("--code", options.code)
    if options.report is not None:
        _check_output_folder("--report", options.report, (REPORT_NAME, PAGE_NAME, RESULTS_NAME, PLOT_NAME))
    if options.tensorboard is not None:
        _check_output_folder("--tensorboard", options.tensorboard)
        if importlib.util.find_spec("tensorboard") is None:
            raise UsageError("--tensorboard needs the tensorboard package (pip install tensorboard)")
    if options.report_from and not (options.report or options.tensorboard):
        raise UsageError("--from needs --report DIR and/or --tensorboard DIR: what to build from the saved results")


def safe_path(option: str, text: str, file: bool = False) -> Path:
    """The option's path resolved; a symlink loop, or (file=True) anything but a regular file or nothing, is a
    one-line UsageError: a FIFO, a device node or a link is never replaced by the results."""
    try:
        if file:
            check_target(text)
        return resolve(text)
    except UnsafeTarget as exc:
        raise UsageError(f"{option} {exc}") from None


def _check_output_folder(option: str, text: str, names: tuple[str, ...] = ()) -> None:
    """A folder written after the run: it exists and can be written into, or its parent exists and can be written;
    the files `names` it will get are regular files or absent."""
    folder = safe_path(option, text)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{option} {text} is a file, not a folder")
    if not folder.parent.is_dir():
        raise UsageError(f"{option} parent folder {folder.parent} does not exist")
    check_writable(option, folder if folder.is_dir() else folder.parent)  # written into, or created in
    for name in names:
        safe_path(option, str(folder / name), file=True)


def _export_folder(text: str) -> Path:
    """--export DIR: a folder that exists or can be created, and can be written."""
    folder = safe_path("--export", text)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--export {text} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--export folder {folder} cannot be created ({exc.strerror or exc})") from None
    check_writable("--export", folder)
    return folder


def default_output(options: Options) -> str | None:
    """results/TASK-TIMESTAMP.json for a real run without --output (a dry run saves nothing)."""
    if options.output is not None or options.dry_run:
        return options.output
    folder = Path("results")
    try:
        folder.mkdir(exist_ok=True)
    except OSError as exc:
        print(f"framebench: warning: cannot create {folder}/ ({exc.strerror or exc}); results will only be printed", file=sys.stderr)
        return None
    return str(folder / f"{options.task}-{time.strftime('%Y%m%d-%H%M%S')}.json")


def resolve_device(options: Options) -> Resolution:
    """One device for the comparison (DeviceError, a UsageError, for --device cuda where a framework sees no GPU)."""
    installed = [fw for fw in options.frameworks if not missing_packages(fw)]  # the others are skipped rows
    cpu_only = tuple(fw for fw in installed if engine(fw).cpu_only)
    return resolve_for(options.device, installed, cpu_only)


def export_dir(options: Options, framework: str, model: str, seed: int, mode: str, config: dict) -> str | None:
    """DIR/<task>-<framework>-<model> for one row; a seed, variant or sweep suffix only where a run has several."""
    if options.export is None:
        return None
    suffix = (f"-{options.variant}" if options.variant else "") + (f"-seed{seed}" if options.repeats > 1 else "")
    suffix += (f"-{mode}" if mode and len(options.mode) > 1 else "") + "".join(f"-{part.replace('=', '')}" for part in config_title(config).split(", ") if part)
    return str(Path(options.export) / row_folder(options.task, framework, model, suffix))


def run_meta(options: Options, spec: TaskSpec, resolution: Resolution | None) -> RunMeta:
    """The header facts of the run (saved as the results' "meta")."""
    first_seed = spec.train.seed
    last_seed = first_seed + options.repeats - 1
    augment = describe_augment(with_augment(spec, options.augment).data.augment) if options.augment else ""
    return RunMeta(
        task=options.task, title=spec.title, device=resolution.device if resolution else options.device,
        device_asked=options.device, device_note=resolution.note if resolution else "", precision=options.precision,
        threads=options.threads, seed=first_seed if options.repeats == 1 else f"{first_seed}..{last_seed}",
        dtype=options.dtype, tf32=options.precision == "tf32", optimizer=describe(spec.optimizer), loss=spec.model.loss,
        dry_run=options.dry_run, argv=list(options.argv), executor=options.executor, sweep=sweep_grid(options.sweep),
        variant=_variant_name(options), augment=augment,
        spec_lines=resolved_lines(spec) if options.spec is not None else [], spec=spec_to_json(spec),
    )  # fmt: skip


def _variant_name(options: Options) -> str:
    """The variant the header names: --model's, the task's default, or "spec file" for --spec."""
    if options.spec is not None:
        return "spec file" if isinstance(options.spec, TaskSpec) else f"spec file {options.spec}"
    return registry.get(options.task).variant_names()[0] if options.variant is None else options.variant


def make_plan(options: Options, resolution: Resolution | None = None, kept: dict[tuple, RunResult] | None = None,
              progress: bool = False) -> RunPlan:  # fmt: skip
    """One RunRequest per row (sweep configuration x seed x framework x model x mode), each carrying its resolved spec;
    an engine without an asked mode gets a skipped row naming its modes (its child finds out: modes are the adapter's)."""
    spec = task_spec(options)
    grid = sweep_grid(options.sweep)
    configs = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    data_dir = str(Path(options.data_dir).resolve()) if options.data_dir else None  # the same for a Ray worker elsewhere
    first_seed = spec.train.seed
    modes = list(options.mode or mode_list(options)) or [""]  # "": each engine's default mode (its MODES' first)
    device = resolution.device if resolution is not None else options.device
    requests = [
        RunRequest(
            task=options.task, framework=fw, model=model, spec=spec_to_json(row_spec(spec, options, config, seed)),
            subset=options.subset, test_subset=options.test_subset, data_dir=data_dir, dry_run=options.dry_run, config=config,
            import_weights=options.import_weights, load_weights=function_path(load_weights),
            export_dir=export_dir(options, fw, model, seed, mode, config), export=function_path(export_row),
            settings=RunSettings(device=row_device(fw, device), threads=options.threads, dtype=options.dtype, seed=seed,
                                 tf32=options.precision == "tf32", precision=options.precision, mode=mode,
                                 progress=progress and options.executor == "local"),  # parallel rows: one line each
        )
        for config in configs
        for seed in range(first_seed, first_seed + options.repeats)
        for fw in options.frameworks
        for model in model_names(fw, spec)
        for mode in modes
    ]  # fmt: skip
    output = Path(options.output) if options.output else None
    return RunPlan(requests=requests, timeout_s=options.timeout, in_process=options.in_process, output=output,
                   meta=run_meta(options, spec, resolution), kept=kept or {}, executor=options.executor,
                   ray_address=options.ray_address, quiet=options.quiet,
                   shared_children=options.dry_run, spec=spec)  # a dry run times nothing: each engine starts once  # fmt: skip

"""Option aliases shared by the commands (spaCy style), and small output helpers."""

from __future__ import annotations

import shlex

import typer

SEED = typer.Option(0, "--seed", help="One seed for splits, sampling, initialisation and the predictor.")
BUDGET = typer.Option(..., "--budget", "-b", help="Wall-clock budget from the command's start: 90s, 5m, 1h.")
DEVICE = typer.Option("auto", "--device", help="cpu, cuda, cuda:N or auto (cuda when available).")
JSON = typer.Option(False, "--json", help="Print the manifest as one JSON object on stdout.")
STRICT = typer.Option(False, "--strict", help="Fail on corrupt or unreadable images instead of skipping them.")
PRECISION = typer.Option("fp32", "--precision",
                         help="The training steps' arithmetic: fp32, bf16 (CPUs with AVX512-BF16 or AMX, and GPUs) or "
                              "fp16 (CUDA; the loss is scaled). Evaluation and the saved weights stay fp32.")
ALLOW_OUTSIDE = typer.Option(False, "--allow-outside",
                             help="Read CSV rows whose images lie outside the CSV's folder (absolute paths, ..).")


def _test_split(data: str | None) -> str | None:
    """``DATA/test`` when ``data`` is an ImageFolder with a test split (held out of training and choice)."""
    from nasoa.core.data import data_path  # lazy: the data package; the CLI starts with typer only

    folder = data_path(data) if data else None
    return str(folder / "test") if folder is not None and (folder / "test").is_dir() else None


def print_result(p: dict, data: str | None = None) -> None:
    """A short human summary of a train/adapt result; ``data`` (the command's DATA) names the test
    split to score when it has one."""
    from rich.console import Console

    c = Console(soft_wrap=True)  # a line per fact, never broken at 80 columns (logs are grepped)
    r = p["regime"]
    c.print(f"[bold]{p['model']}[/bold] on {p['task']} ({p['num_classes']} classes, {p['num_train']} train / {p['num_val']} val images)", highlight=False)
    if p.get("strategy"):
        setup = p.get("setup_s") or {}
        where = (f" (start-up and loading {setup['start_and_load']:.1f}s, meta-features {setup['meta_features']:.1f}s)"
                 if setup else "")
        c.print(f"chosen by strategy {p['strategy']!r} from {p.get('n_candidates', '?')} candidate regimes "
                f"in {p.get('recommend_ms', float('nan')):.0f} ms{where}", highlight=False)
    c.print(
        f"regime: lr {r['lr']:g}, frozen stages {r['frozen_stages']}, {r['schedule']}, {r['optimizer']}, batch {r['batch_size']}",
        highlight=False,
    )
    pred = p.get("predicted_accuracy")
    acc = f"val accuracy {p['val_accuracy']:.4f}"
    if p.get("val_balanced_accuracy") is not None and (p.get("val_imbalance") or 1) >= 1.5:
        worst = min(p["val_recall_by_class"].items(), key=lambda kv: kv[1])
        acc += f", balanced {p['val_balanced_accuracy']:.4f} (lowest recall: {worst[0]} {worst[1]:.3f})"
    if pred is not None:
        acc += f" (predicted {pred:.4f})"
    planned = p.get("planned_epochs")
    epochs = f"{p['epochs']:.2f} epochs" + (f", planned {planned:.1f}" if planned is not None else "")
    c.print(acc + f" after {p['steps']} steps ({epochs}, {p['images_per_s']:.0f} img/s)", highlight=False)
    c.print(
        f"time: {p['elapsed_s']:.1f}s of {p['budget_s']:.0f}s budget (predicted {p['predicted_s']:.1f}s); stopped: {p['stop_reason']}",
        highlight=False,
    )
    tm = p.get("time_model")
    here = (tm.get("here") or {}) if tm else None
    if (here is not None and planned and p["stop_reason"] in ("planned", "deadline")
            and not 0.75 <= p["epochs"] / planned <= 1.25 and not here.get("calibration")):
        # The trainer fitted the run to its budget, but the plan (a predictor input) was off on this machine.
        c.print(f"note: this machine ran {p['epochs'] / planned:.2f}x the planned epochs; `nasoa zoo calibrate` "
                "(once, idle, about 2 minutes) measures its speeds for the next plans", highlight=False)
    if p.get("precision", "fp32") != "fp32":
        c.print(f"precision: {p['precision']} training steps (autocast); evaluation, the saved weights, predict and "
                "export in fp32", highlight=False)
    cal = p.get("calibration")
    if cal:
        c.print(f"probabilities calibrated on the {cal['images']} validation images: temperature "
                f"{cal['temperature']:.3g} (NLL {cal['nll'][0]:.3f} -> {cal['nll'][1]:.3f}); predict and export "
                "apply it", highlight=False)
    if p.get("diverged"):
        c.print("[red]the loss diverged (NaN/inf): try a lower --lr[/red]")
    c.print(f"run dir: {p['run_dir']}", highlight=False)
    if p.get("run_dir") and p.get("stop_reason") != "interrupted" and not p.get("diverged"):
        run = shlex.quote(str(p["run_dir"]))
        test = _test_split(data)
        if test is not None:
            c.print(f"score the held-out test split: nasoa predict {run} {shlex.quote(test)} --summary",
                    highlight=False)
        c.print(f"next: nasoa predict {run} IMAGES... (classify)  |  nasoa export {run} (ONNX for serving)",
                highlight=False)


# Executors (nasoa.app.executor): where a command's independent runs are carried out.
EXECUTOR = typer.Option("local", "--executor", help="local (one run at a time in this process) or ray (runs as Ray "
                                                    "tasks; needs pip install \"nasoa[distributed]\").")
ADDRESS = typer.Option(None, "--address", help="With --executor ray: auto (the cluster `ray start` made here) or "
                                               "HOST:PORT of a head node. Default: a local Ray for this command.")
CPUS_PER_RUN = typer.Option(1.0, "--cpus-per-run", min=0.01, help="With --executor ray: CPUs each run asks for; its "
                                                                   "torch threads follow.")
GPUS_PER_RUN = typer.Option(None, "--gpus-per-run", min=0.0, help="With --executor ray: GPUs each run asks for "
                                                                   "(default: 1 where the cluster has GPUs, else 0).")
RETRIES = typer.Option(2, "--retries", min=0, max=100, help="With --executor ray: times a run is retried after its "
                                                            "worker died (SIGKILL, out of memory, lost node).")


def check_executor(executor: str, address: str | None, cpus_per_run: float, gpus_per_run: float | None,
                   retries: int) -> None:
    """Refuse bad executor options before the command touches a file (nasoa.app.executor.check_options)."""
    from nasoa.app.executor import check_options

    check_options(executor, address=address, cpus_per_run=cpus_per_run, gpus_per_run=gpus_per_run, retries=retries)


def executor_from(executor: str, address: str | None, cpus_per_run: float, gpus_per_run: float | None,
                  retries: int):
    """The executor the options name (nasoa.app.executor.make_executor; ray is imported only for ray)."""
    from nasoa.app.executor import make_executor

    return make_executor(executor, address=address, cpus_per_run=cpus_per_run, gpus_per_run=gpus_per_run,
                         retries=retries)

"""``nasoa adapt``: one-shot model and regime choice, fine-tuning within the budget, online learning."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import typer

from nasoa.core.runtime import parse_duration

from . import _options as opt
from ._common import command_start


def adapt(
    data: str = typer.Argument(..., help="ImageFolder dir, .csv, .npz, or builtin:NAME?classes=..&per_class=.."),
    budget: str = opt.BUDGET,
    strategy: str = typer.Option(
        "nasoa", "--strategy",
        help="nasoa | practice | default | random | logme | bohb. practice: common practice, the bar to clear "
             "(ImageNet MobileNetV2, full fine-tune, AdamW lr 1e-3 wd 0.05, cosine, the task's size >= 32 px; "
             "no meta-model, no store reads)."),
    explore: bool = typer.Option(False, "--explore", help="Optimistic pick: prediction + uncertainty."),
    probe: str = typer.Option(
        "auto", "--probe",
        help="auto | never | always. auto: on a task unlike the experience, train the best regimes of up to 3 "
             "members in 30% of the budget (two: up to 40%) and continue the best (strategy nasoa). never: the pure "
             "one-shot pick."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the top-k regimes and stop."),
    top_k: int = typer.Option(5, "--top", min=1, max=100, help="How many regimes --dry-run shows."),
    no_learn: bool = typer.Option(False, "--no-learn", help="Leave the experience store untouched."),
    store: Path = typer.Option(None, "--store", envvar="NASOA_STORE", help="Experience store (SQLite)."),
    out: Path = typer.Option(None, "--out", help="Run dir (default runs/adapt-<time>-<model>)."),
    seed: int = opt.SEED,
    strict: bool = opt.STRICT,
    allow_outside: bool = opt.ALLOW_OUTSIDE,
    device: str = opt.DEVICE,
    as_json: bool = opt.JSON,
) -> None:
    """Pick a zoo model and a fine-tuning regime in one shot, fine-tune within --budget, and learn."""
    start = command_start()
    budget_s = parse_duration(budget)
    from nasoa.app.adapt import adapt as run

    m = run(data, budget_s, strategy=strategy, explore=explore, seed=seed, store=store, out=out, device=device,
            learn=not no_learn, dry_run=dry_run, k=top_k, strict=strict, start_time=start,
            progress=False if as_json else None, probe=probe, allow_outside=allow_outside)
    if as_json:
        typer.echo(json.dumps(m, default=str))
        return
    if dry_run:
        if m["strategy"] == "practice":  # a fixed choice: nothing was scored
            r = m["regime"]
            typer.echo(f"practice: {m['model']} at {m['input_size']} px, lr {r['lr']:g}, frozen {r['frozen_stages']}, "
                       f"{r['schedule']}, {r['optimizer']} wd {r['weight_decay']:g}, batch {r['batch_size']}")
            return
        _print_transfer(m)
        _print_time_model(m)
        typer.echo(f"{m['n_candidates']} candidate regimes fit {budget_s:g}s; scored in {m['recommend_ms']:.0f} ms")
        sides = len({r.get("input_size") for r in m["top"]}) > 1
        for i, r in enumerate(m["top"], 1):
            pa = r.get("predicted_accuracy")
            name = f"{r['model_name']} @{r['input_size']:.0f}px" if sides and r.get("input_size") else r["model_name"]
            typer.echo(f"{i}. {name:<28} lr {r['lr']:<6g} frozen {r['frozen_stages']} {r['schedule']:<7} "
                       f"{r['optimizer']:<6} ~{r.get('planned_epochs', float('nan')):.1f} epochs  "
                       + (f"predicted acc {pa:.3f}" if pa is not None else ""))
        _print_probe(m)
        return
    _print_transfer(m)
    _print_probe(m)
    opt.print_result(m, data)
    if not no_learn and m.get("strategy") != "practice":
        _note_shipped_gap(store)


def _note_shipped_gap(store: Path | None) -> None:
    """After the run (outside its budget): a store seeded by an earlier nasoa lacks this version's
    shipped runs; say how to add them."""
    from nasoa.app.experience import shipped_gap
    from nasoa.meta.store import ExperienceStore

    n = shipped_gap(ExperienceStore(store, create=False))
    if n:
        where = f" --store {shlex.quote(str(store))}" if store is not None else ""
        typer.echo(f"note: this nasoa ships {n:,} runs of experience the store lacks; `nasoa meta upgrade{where}` "
                   f"adds them and refits the meta-model", err=True)


def _print_transfer(m: dict) -> None:
    """What scoring the members' transferability cost, and what the budget left unscored."""
    t = m.get("transfer") or {}
    if not (t.get("scored") or t.get("cached") or t.get("skipped")):
        return
    took = sum(c.get("measured", 0.0) for c in (t.get("costs_s") or {}).values())
    parts = []
    if t.get("scored"):
        parts.append(f"{len(t['scored'])} member(s) scored on {t.get('images')} images in {took:.1f}s"
                     + (f" (+{t['warmup_s']:.1f}s importing their builders)" if t.get("warmup_s") else ""))
    if t.get("cached"):
        parts.append(f"{len(t['cached'])} cached")
    line = "transferability: " + (", ".join(parts) or "none scored")
    if t.get("skipped"):
        imputed = t.get("imputed") or {}
        line += f"; the budget left {', '.join(t['skipped'])} unscored"
        if imputed:
            line += " (ranked on scores imputed from similar past tasks" + (
                ")" if len(imputed) == len(t["skipped"]) else f": {', '.join(sorted(imputed))})")
    typer.echo(line)


def _print_time_model(m: dict) -> None:
    """Where the planned epochs' step times come from on this machine."""
    tm = m.get("time_model")
    if tm is None:  # $NASOA_MACHINE_FACTOR sets the speed
        return
    if not tm.get("runs") and not tm.get("calibration"):
        typer.echo("time model: the zoo's profiled step times (no measured run here to calibrate them; "
                   "`nasoa zoo calibrate` measures this machine)")
        return
    how = (f"rescaled by this machine's speed probe ({tm['speed_probe_ms']:.1f} ms) over theirs"
           if tm.get("speed_by") == "probe" else "of this CPU model")
    here = tm.get("here") or {}
    parts = ([f"{here['runs']} of them ran on this machine"] if here.get("runs") else []) + (
        [f"`nasoa zoo calibrate` measured it {here['calibration']} times"] if here.get("calibration") else []) + (
        [f"{here['other_threads']} ran on this machine at another thread count"] if here.get("other_threads") else [])
    own = f"; {' and '.join(parts)}, which moves it by {here['factor']:.2f}x" if parts else ""
    if not here.get("calibration") and not here.get("runs"):
        own += " (`nasoa zoo calibrate` measures this machine)"
    typer.echo(f"time model: step times calibrated on {tm['runs']} measured runs {how}; "
               f"{tm['global_factor']:.2f}x the profiled table overall{own}")


def _print_probe(m: dict) -> None:
    nov, plan = m.get("novelty") or {}, m.get("probe")
    if nov.get("score") is not None:
        typer.echo(f"novelty {nov['score']:.2f} (distance to the nearest of {nov['tasks']} experience tasks, "
                   f"1 = the experience's 90th percentile)")
    if plan:
        verb = "probed" if m.get("probe_trials") else "would probe"
        typer.echo(f"{verb} {', '.join(plan['models'])} for {plan['probe_s']:.1f}s each ({plan['reason']})")
        for t in m.get("probe_trials") or []:
            typer.echo(f"  {t['model']:<28} val acc {t['val_accuracy']:.4f} (predicted {t['predicted_accuracy']:.4f}) "
                       f"in {t['elapsed_s']:.1f}s")
        if plan.get("winner"):
            typer.echo(f"  continued {plan['winner']}")


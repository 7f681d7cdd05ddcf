"""``nasoa data``: the built-in sources, what nasoa reads from a dataset before training on it, and a
task written out as an ImageFolder tree."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from . import _options as opt

app = typer.Typer(help="Datasets: the built-in sources, a check of your own data, a task written as a folder.",
                  no_args_is_help=True)


@app.command("list")
def list_cmd(as_json: bool = typer.Option(False, "--json", help="A JSON list of sources on stdout.")) -> None:
    """The built-in sources: real datasets that ship in packages, generated task families (textures, noise,
    shapes, fractals, crops of real photos) and recoloured/corrupted variants of the real ones; classes,
    images, size, install."""
    from nasoa.core.data import list_builtin

    sources = list_builtin()
    if as_json:
        typer.echo(json.dumps(sources, default=list))
        return
    from rich.table import Table

    from ._common import print_table

    t = Table(title="built-in sources (use as builtin:NAME?classes=...&per_class=...&size=...&seed=...)")
    t.add_column("name", no_wrap=True)  # what a spec names: cut last
    for col in ("kind", "title"):
        t.add_column(col)
    for col in ("classes", "train", "test"):
        t.add_column(col, justify="right", no_wrap=True)
    for col in ("size", "ch", "installed"):
        t.add_column(col)
    rows = []
    for s in sources:
        generated = s["kind"] == "generated"
        rows.append((s["name"], s["kind"], s["title"], str(s["num_classes"]),
                     "any" if generated else str(s["train_images"]), str(s["test_images"]),
                     "x".join(map(str, s["native_size"])) + (" (any)" if generated else ""), str(s["channels"]),
                     "yes" if s["available"] else f"no: {s['install']}"))
        t.add_row(*rows[-1])

    def narrow() -> None:  # a terminal too narrow for the table: two lines a source, which wrap as they must
        typer.echo(t.title)
        for name, kind, title, classes, train, test, size, ch, installed in rows:
            typer.echo(f"{name} ({kind}): {title}")
            typer.echo(f"    {classes} classes, train {train}, test {test}, size {size}, {ch} channel(s); "
                       f"installed: {installed}")

    print_table(t, narrow)
    typer.echo("Generated families render any number of images per class at any ?size=N; a class is the same "
               "recipe in every task, and the test split comes from a seed no task uses.")


@app.command("show")
def show(
    data: str = typer.Argument(..., help="An ImageFolder tree, a CSV of (path, label), an .npz, or builtin:NAME?..."),
    seed: int = opt.SEED,
    strict: bool = typer.Option(False, "--strict", help="Refuse unreadable images instead of skipping them."),
    allow_outside: bool = opt.ALLOW_OUTSIDE,
    as_json: bool = typer.Option(False, "--json", help="One JSON object on stdout."),
) -> None:
    """Load a dataset as nasoa would (split, checks, warnings) and print its size and meta-features."""
    from nasoa.core.data import class_counts, load_task
    from nasoa.meta.features import task_id, task_meta_features
    from nasoa.zoo import read_side

    # At the side adapt reads it (warnings: printed as they occur).
    task = load_task(data, seed=seed, strict=strict, allow_outside=allow_outside, max_side=read_side())
    train, val = class_counts(task, "train"), class_counts(task, "val")
    outside = int(task.info.get("rows_outside", 0))
    doc = {
        "data": data, "name": task.name, "source": task.source, "task_id": task_id(task),
        "classes": [{"name": c, "train": a, "val": b} for c, a, b in zip(task.classes, train, val)],
        "num_train": task.num_train, "num_val": task.num_val, "channels": task.channels,
        "image_size": task.image_size, "rows_outside": outside, "warnings": list(task.info.get("warnings", [])),
        "meta_features": task_meta_features(task, seed=seed),
    }
    if as_json:
        typer.echo(json.dumps(doc, default=float))
        return
    typer.echo(f"{task.name}: {task.num_classes} classes, {task.num_train} train + {task.num_val} validation images, "
               f"{task.channels} channel(s), {task.image_size} px (task id {doc['task_id']})")
    if outside:
        typer.echo(f"{outside} CSV row(s) point outside the CSV's folder (read because of --allow-outside)")
    width = max(len(c) for c in task.classes)
    for c in doc["classes"]:
        typer.echo(f"  {c['name']:<{width}}  train {c['train']:>6}  val {c['val']:>5}")
    typer.echo("meta-features:")
    for k, v in doc["meta_features"].items():
        typer.echo(f"  {k}: {v:.4g}" if isinstance(v, float) else f"  {k}: {v}")


@app.command("export")
def export(
    data: str = typer.Argument(..., help="An ImageFolder tree, a CSV of (path, label), an .npz, or builtin:NAME?..."),
    out: Path = typer.Argument(..., help="A new or empty folder to write train/, val/ and test/ into."),
    seed: int = opt.SEED,
    test: bool | None = typer.Option(None, "--test/--no-test", show_default=False,
                                     help="Write the held-out test split too (test/), which nasoa only scores on "
                                          "[default: when the data has one]."),
    strict: bool = typer.Option(False, "--strict", help="Refuse unreadable images instead of skipping them."),
    allow_outside: bool = opt.ALLOW_OUTSIDE,
    as_json: bool = typer.Option(False, "--json", help="One JSON object on stdout."),
) -> None:
    """Write a dataset's task as an ImageFolder tree of PNGs (train/, val/, test/, one folder per class):
    a built-in or generated task as a user's folder, for `nasoa adapt OUT`, to share or to look at.
    Reading OUT back gives the same images, labels and splits."""
    import time

    from nasoa.core.data import NoTestSplit, export_image_folder, load_task, load_test
    from nasoa.core.data.export import check_export_target
    from nasoa.zoo import read_side

    t = time.perf_counter()
    check_export_target(out)  # before the (possibly long) load
    side = read_side()  # the images adapt would train on: reading OUT back gives the same ones
    task = load_task(data, seed=seed, strict=strict, allow_outside=allow_outside, max_side=side)
    held = None
    if test is not False:
        try:
            held = load_test(data, seed=seed, strict=strict, allow_outside=allow_outside, max_side=side)
        except NoTestSplit:
            if test:  # asked for by name
                raise
    doc = {"data": data, "seed": seed, **export_image_folder(task, out, held), "seconds": time.perf_counter() - t}
    if as_json:
        typer.echo(json.dumps(doc))
        return
    split = f", {doc['test']} test" if held is not None else ""
    typer.echo(f"wrote {doc['train']} train, {doc['val']} validation{split} images of {len(doc['classes'])} classes "
               f"({doc['channels']} channel(s), {doc['image_size']} px) to {doc['out']} in {doc['seconds']:.1f}s")
    typer.echo(f"use it as your own data: nasoa adapt {doc['out']} --budget 60s")

"""``nasoa predict``: classify images, or folders of them, with a fine-tuned run."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def predict(
    run_dir: Path = typer.Argument(..., help="A run dir written by `nasoa train` or `nasoa adapt`."),
    images: list[Path] = typer.Argument(..., help="Image files, or folders of them (every image inside), to classify."),
    top_k: int = typer.Option(3, "--top", min=1, max=100, help="How many classes to list per image."),
    as_json: bool = typer.Option(False, "--json", help="One JSON list on stdout."),
) -> None:
    """Classify new images with a fine-tuned model: label and probability per image. When every image
    lies in a folder named after one of the run's classes (an ImageFolder split, such as `nasoa data
    export`'s test/), the accuracy against those folders follows the list."""
    from nasoa.app.predict import accuracy
    from nasoa.app.predict import predict as run

    preds = run(run_dir, list(images), top_k)
    if as_json:
        typer.echo(json.dumps([{"path": p.path, "label": p.label, "probability": p.probability, "top": p.top,
                                "folder_class": p.folder_class} for p in preds]))
        return
    for p in preds:
        alts = ", ".join(f"{c} {v:.3f}" for c, v in p.top[1:])
        typer.echo(f"{p.path}\t{p.label}\t{p.probability:.3f}" + (f"\t({alts})" if alts else ""))
    scored = accuracy(preds)
    if scored is not None:
        right, n = scored
        typer.echo(f"accuracy {right / n:.4f} ({right} of {n} images, each in a folder named after its class)")

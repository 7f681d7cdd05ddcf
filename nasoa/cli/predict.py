"""``nasoa predict``: classify images, or folders of them, with a fine-tuned run."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from nasoa.core.errors import NasoaError


def predict(
    run_dir: Path = typer.Argument(..., help="A run dir written by `nasoa train` or `nasoa adapt`."),
    images: list[Path] = typer.Argument(..., help="Image files, or folders of them (every image inside), to classify."),
    top_k: int = typer.Option(3, "--top", min=1, max=100, help="How many classes to list per image."),
    as_json: bool = typer.Option(False, "--json", help="One JSON list on stdout."),
    summary: bool = typer.Option(False, "--summary", help="Only the per-class table and the accuracy, not a line "
                                                          "per image (images in class folders)."),
    min_confidence: float = typer.Option(None, "--min-confidence", min=0.0, max=1.0,
                                         help="Mark images whose top probability is below this as unsure (for a "
                                              "person to review) and report how many are labelled, and how "
                                              "accurately, at this threshold."),
    tta: bool = typer.Option(False, "--tta", help="Test-time augmentation: average each image's probabilities with "
                                                  "its mirror image's (twice the compute; runs trained with flips)."),
    uncalibrated: bool = typer.Option(False, "--uncalibrated", help="The network's own probabilities, without the "
                                                                    "run's temperature (the labels are the same)."),
) -> None:
    """Classify new images with a fine-tuned model: label and probability per image. When every image
    lies in a folder named after one of the run's classes (an ImageFolder split, such as `nasoa data
    export`'s test/), a per-class table (images, recall, precision, the class most often taken for)
    and the accuracy against those folders follow the list, with the expected calibration error of the
    probabilities. The probabilities are calibrated on the run's validation split (temperature scaling)
    unless --uncalibrated."""
    from nasoa.app.predict import accuracy, calibration_error, confident, per_class
    from nasoa.app.predict import predict as run

    preds = run(run_dir, list(images), top_k, calibrated=not uncalibrated, tta=tta)
    sure = (lambda p: True) if min_confidence is None else (lambda p: p.probability >= min_confidence)
    if as_json:
        typer.echo(json.dumps([{"path": p.path, "label": p.label, "probability": p.probability, "top": p.top,
                                "folder_class": p.folder_class,
                                **({"sure": sure(p)} if min_confidence is not None else {})} for p in preds]))
        return
    scored = accuracy(preds)
    if summary and scored is None:
        raise NasoaError("--summary needs every image in a folder named after one of the run's classes (as "
                         "`nasoa data export` writes test/); leave it out to list each image")
    for p in preds if not summary else ():
        alts = ", ".join(f"{c} {v:.3f}" for c, v in p.top[1:])
        typer.echo(f"{p.path}\t{p.label}\t{p.probability:.3f}" + (f"\t({alts})" if alts else "")
                   + ("" if sure(p) else "\tunsure"))
    if scored is not None:
        rows = per_class(preds) or []
        width = max(len("class"), *(len(r["class"]) for r in rows))
        typer.echo(f"{'class':<{width}}  images  recall  precision  most often taken for")
        for r in rows:
            prec = f"{r['precision']:.3f}" if r["precision"] is not None else "-"
            taken = f"{r['taken_for']} ({r['taken_for_images']})" if r["taken_for"] is not None else "-"
            typer.echo(f"{r['class']:<{width}}  {r['images']:>6}  {r['recall']:>6.3f}  {prec:>9}  {taken}")
        right, n = scored
        typer.echo(f"accuracy {right / n:.4f} ({right} of {n} images, each in a folder named after its class); "
                   f"calibration error (ECE) {calibration_error(preds):.4f}"
                   + (" (uncalibrated)" if uncalibrated else ""))
    if min_confidence is not None:
        c = confident(preds, min_confidence)
        acc = f", accuracy {c['accuracy']:.4f} on them" if c["accuracy"] is not None else ""
        typer.echo(f"at --min-confidence {min_confidence:g}: {c['labelled']} of {c['images']} images labelled "
                   f"({c['labelled'] / c['images']:.1%}){acc}; {c['left']} unsure, left for review")

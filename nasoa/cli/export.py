"""``nasoa export``: a fine-tuned run as an ONNX file or a torch.export program, for serving without nasoa."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def export(
    run_dir: Path = typer.Argument(..., help="A run dir written by `nasoa train` or `nasoa adapt`."),
    fmt: str = typer.Option("onnx", "--format", "-f", help="onnx (onnxruntime, TensorRT, OpenVINO...; needs "
                                                           "nasoa[export]) or pt2 (torch.export.load, plain torch)."),
    out: Path = typer.Option(None, "--out", "-o", help="The model file to write; its description goes beside "
                                                       "it as FILE.json (default RUN_DIR/export/model.FORMAT)."),
    opset: int = typer.Option(18, "--opset", min=13, max=23, help="ONNX opset (onnxruntime >= 1.14 runs 18)."),
    check: int = typer.Option(8, "--check", min=0, max=1024, help="Seeded random images to run through the "
                                                                  "export and the run's model (0: no check)."),
    tta: bool = typer.Option(False, "--tta", help="Test-time augmentation inside the model: each image's "
                                                  "probabilities averaged with its mirror image's (as predict --tta)."),
    as_json: bool = typer.Option(False, "--json", help="Print the description as one JSON object on stdout."),
) -> None:
    """Export a run's fine-tuned model for serving without nasoa: it takes uint8 images (batch x size x
    size x channels, the run's colour) and returns class probabilities and logits, with the run's
    normalisation inside. A JSON description beside it lists the classes in output order, the input
    and how nasoa framed images. The export is checked against the run's model before it is written
    in place (probabilities within 1e-4)."""
    from nasoa.app.export_model import describe, export_run

    info = export_run(run_dir, out, fmt=fmt.lower(), opset=opset, check_images=check, tta=tta)
    if as_json:
        typer.echo(json.dumps(info))
        return
    for line in describe(info):
        typer.echo(line)

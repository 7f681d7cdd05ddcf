"""``nasoa arch``: decode, count and sample ET-NAS architectures."""

from __future__ import annotations

import json
import random

import typer

from nasoa.core.errors import NasoaError

app = typer.Typer(help="Decode, count and sample ET-NAS architectures.", no_args_is_help=True)


def _resolve(name_or_encoding: str):
    import nasoa.zoo  # noqa: F401  (registers the zoo's members: `arch show etnas_z1`)
    from nasoa.core.models import get_entry
    from nasoa.core.space import parse

    entry = get_entry(name_or_encoding)
    if entry.encoding is None:
        raise NasoaError(f"{entry.name!r} is a {entry.family} model, not an ET-NAS encoding")
    return entry, parse(entry.encoding)


@app.command("show")
def show(
    name_or_encoding: str = typer.Argument(..., help="A model name (nasoa zoo list) or an ET-NAS encoding."),
    size: int = typer.Option(224, "--size", min=8, max=4096, help="Input resolution in pixels."),
    classes: int = typer.Option(1000, "--classes", min=1, help="Classifier outputs."),
    stem: str = typer.Option(None, "--stem", help="'large' (stride 4) or 'small' (stride 1); default by --size."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of a table."),
) -> None:
    """Decode an architecture stage by stage, with parameters and multiply-accumulates."""
    from nasoa.core.space import auto_stem, block_summary, count_cost, describe

    entry, arch = _resolve(name_or_encoding)
    stem = stem or auto_stem(size)
    if stem not in ("large", "small"):
        raise NasoaError(f"--stem must be 'large' or 'small', not {stem!r}")
    cost = count_cost(arch, size, classes, stem)
    rows = describe(arch, size, stem)
    if as_json:
        out = {
            "name": entry.name,
            "encoding": arch.encoding,
            "input_size": size,
            "num_classes": classes,
            "stem": stem,
            "params": cost.params,
            "macs": cost.macs,
            "block": block_summary(arch.block),
            "stages": rows,
        }
        typer.echo(json.dumps(out))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    title = arch.encoding if entry.name == arch.encoding else f"{entry.name}: {arch.encoding}"
    console.print(f"[bold]{title}[/bold]", highlight=False)
    console.print(f"block ({arch.block.n_layers} layers, ratios relative to the block's output width c):")
    for line in block_summary(arch.block):
        console.print(f"  {line}", highlight=False)
    table = Table(title=f"{size}x{size} input, {stem} stem, {classes} classes")
    for col in ("stage", "blocks", "in ch", "out ch", "out size", "first stride"):
        table.add_column(col, justify="right" if col != "stage" else "left")
    for r in rows:
        table.add_row(r["stage"], str(r["blocks"]), str(r["in_ch"]), str(r["out_ch"]), f"{r['out_hw']}x{r['out_hw']}", str(r["stride"]))
    console.print(table)
    console.print(f"params: {cost.params:,} ({cost.mparams:.2f} M)   MACs: {cost.macs:,} ({cost.gmacs:.3f} G)")


@app.command("sample")
def sample_cmd(
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    n: int = typer.Option(1, "-n", "--count", min=1, max=10000, help="How many architectures."),
    mutate_from: str = typer.Option(None, "--mutate", help="Mutate this encoding/name instead of sampling."),
    level: str = typer.Option("any", "--level", help="Mutation level: block, macro or any."),
    size: int = typer.Option(32, "--size", min=8, help="Input size for the params/MACs columns."),
    classes: int = typer.Option(10, "--classes", min=1, help="Classes for the params/MACs columns."),
) -> None:
    """Sample random architectures (or mutations of one) from the ET-NAS space, deterministically."""
    from nasoa.app.search import mutate
    from nasoa.core.space import count_cost, sample

    if level not in ("any", "block", "macro"):
        raise NasoaError(f"--level must be block, macro or any, not {level!r}")
    rng = random.Random(seed)
    base = _resolve(mutate_from)[1] if mutate_from else None
    for _ in range(n):
        arch = mutate(base, rng, level=level) if base is not None else sample(rng)
        c = count_cost(arch, size, classes)
        typer.echo(f"{arch.encoding}\t{c.mparams:.3f}M params\t{c.gmacs * 1000:.1f}M MACs @{size}px")

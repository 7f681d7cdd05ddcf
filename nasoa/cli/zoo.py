"""``nasoa zoo``: list, show, pretrain, profile, calibrate and add zoo members."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from nasoa.core.errors import NasoaError
from nasoa.core.runtime import check_name, parse_duration

from . import _options as opt

app = typer.Typer(help="The pretrained zoo: list, show, pretrain, profile, calibrate and add members.",
                  no_args_is_help=True)

_LIST_KEYS = ("name", "family", "encoding", "input_size", "params", "macs", "source", "source_accuracy", "train_step_ms")


@app.command("list")
def list_cmd(
    as_json: bool = typer.Option(False, "--json", help="A JSON list of members on stdout."),
    pretrained_only: bool = typer.Option(True, "--pretrained/--all", help="Only members with weights (default)."),
) -> None:
    """The zoo's members: name, encoding or family, params, source accuracy, train_step_ms."""
    from nasoa.core.models import PUBLISHED
    from nasoa.zoo import records

    recs = records()
    if not pretrained_only:
        recs += [{"name": n, "family": "etnas", "encoding": e, "source": i["source"] if "source" in i else "ImageNet-1k (NASOA)",
                  "source_accuracy": i["top1"] / 100, "params": None, "train_step_ms": None, "weights": None}
                 for n, (e, i) in PUBLISHED.items()]
    if as_json:
        typer.echo(json.dumps([{k: r.get(k) for k in _LIST_KEYS} | {"origin": r.get("origin", "published")} for r in recs]))
        return
    from rich.table import Table

    from ._common import print_table

    t = Table(title=f"nasoa zoo ({len(recs)} members)")
    t.add_column("name", no_wrap=True)  # what --model and `zoo show` take: cut last
    t.add_column("encoding / family", overflow="fold")  # an encoding is copied whole, never cut with "..."
    for col in ("input", "params", "source acc", "step ms (frozen 0)"):
        t.add_column(col, justify="right")
    for r in recs:
        steps = r.get("train_step_ms") or {}
        t.add_row(r["name"], r.get("encoding") or r.get("family", ""), str(r.get("input_size", "")),
                  f"{r['params'] / 1e6:.2f}M" if r.get("params") else "-",
                  f"{r['source_accuracy']:.4f}" if r.get("source_accuracy") is not None else "-",
                  f"{steps.get('0', float('nan')):.1f}" if steps else "-")
    print_table(t)


@app.command("show")
def show(name: str = typer.Argument(..., help="Member name (nasoa zoo list).")) -> None:
    """Every registry field of one member, as JSON."""
    from nasoa.zoo import record

    r = {k: v for k, v in record(name).items() if not k.startswith("_")}
    typer.echo(json.dumps(r, indent=2))


@app.command("pretrain")
def pretrain_cmd(
    search_dir: Path = typer.Option(None, "--from-search", help="Take members from this search's Pareto front."),
    encodings: list[str] = typer.Option(None, "--encoding", help="Pretrain this encoding (repeatable)."),
    members: int = typer.Option(6, "--members", min=1, max=50, help="How many front members, fastest to most accurate."),
    budget: str = typer.Option("5m", "--budget-per-member", help="Training budget per member."),
    prefix: str = typer.Option("etnas_z", "--prefix", help="Member names: PREFIX1, PREFIX2, ... by step time."),
    lr: float = typer.Option(0.1, "--lr", min=1e-5, max=5.0, help="Peak learning rate of the pretraining."),
    seed: int = opt.SEED,
    skip_existing: bool = typer.Option(True, "--skip-existing/--redo", help="Keep members already pretrained."),
    source: str = typer.Option(None, "--source", help="Data to pretrain on (default: MNIST + Fashion-MNIST train "
                                                      "splits, 20 classes, 32 px)."),
    registry: Path = typer.Option(None, "--registry", dir_okay=False,
                                  help="Register the members in this members.json, their weights in weights/ beside "
                                       "it (default: the user zoo, $NASOA_ZOO_DIR or zoo/ in the user data dir)."),
) -> None:
    """Pretrain members on the source data and register them (in the user zoo, or --registry)."""
    from nasoa.zoo import build
    from nasoa.zoo.registry import records

    check_name(prefix, "--prefix")
    budget_s = parse_duration(budget)
    chosen: list[str] = list(encodings or [])
    if search_dir is not None:
        from nasoa.app.search import SearchStore, pareto_front

        if not (search_dir / "search.sqlite").exists():
            raise NasoaError(f"{search_dir} holds no search (search.sqlite); run `nasoa search --out {search_dir}` first")
        store = SearchStore(search_dir / "search.sqlite")
        chosen += [r["encoding"] for r in build.choose_members(pareto_front(store.rows()), members)]
        store.close()
    if not chosen:
        raise NasoaError("nothing to pretrain: pass --from-search DIR or --encoding ENC")
    known = records()
    existing = {m["encoding"]: m["name"] for m in known if m.get("encoding") and m.get("weights")}
    used = {m["name"] for m in known}
    n = 0
    for enc in chosen:
        if skip_existing and enc in existing:
            typer.echo(f"{existing[enc]}: {enc} already pretrained (use --redo to train it again)")
            continue
        n += 1
        while f"{prefix}{n}" in used:
            n += 1
        name = existing.get(enc) or f"{prefix}{n}"
        used.add(name)
        build.pretrain(enc, name, budget_s, seed=seed, lr=lr, log=typer.echo, source=source or build.SOURCE,
                       registry=registry, extra={"from_search": str(search_dir) if search_dir else None})


@app.command("profile")
def profile_cmd(
    names: list[str] = typer.Argument(None, help="Members to re-measure (default: every ET-NAS member)."),
    imagenet: bool = typer.Option(False, "--imagenet", help="(Re)measure the two ImageNet members' records."),
    registry: Path = typer.Option(None, "--registry", dir_okay=False,
                                  help="Update the records in this members.json (a maintainer's zoo/members.json) "
                                       "instead of the user zoo's measured.json."),
) -> None:
    """Measure train_step_ms per frozen-stage setting on this machine and keep it, with provenance, in
    the user zoo (it overlays the shipped step times), or in --registry."""
    from nasoa.zoo import build

    build.profile_members(names or None, imagenet=imagenet, registry=registry, log=typer.echo)


@app.command("calibrate")
def calibrate_cmd(
    names: list[str] = typer.Argument(None, help="Members to calibrate (default: every profiled member)."),
    threads: str = typer.Option(None, "--threads", help="Comma-separated thread counts to measure at (default: 1 "
                                                       "and every core this process may use)."),
    seconds: float = typer.Option(5.0, "--seconds", min=2.0, max=120.0,
                                  help="How long each measurement fine-tunes, seconds."),
) -> None:
    """Measure how fast each member fine-tunes on this machine (its trainer, batch 64, random images;
    about 2 minutes on 2 cores) and keep it in the user zoo, so that plans on a new machine land before
    its first run. Run it once per machine, idle, and again after a hardware or torch change."""
    from nasoa.zoo import build

    counts = None
    if threads:
        try:
            counts = [int(t) for t in threads.split(",") if t.strip()]
        except ValueError:
            raise NasoaError(f"--threads {threads!r}: give thread counts such as 1,2") from None
    done = build.calibrate_members(names or None, threads=counts, seconds=seconds, log=typer.echo)
    typer.echo(f"kept {len(done)} measurements of {len({m['model_name'] for m in done})} members in the user zoo; "
               "`nasoa adapt --dry-run` shows how they move the plan")


@app.command("add")
def add(
    name: str = typer.Argument(..., help="A new member name."),
    encoding: str = typer.Option(..., "--encoding", help="Its ET-NAS encoding."),
    weights: Path = typer.Option(..., "--weights", help="A .safetensors state_dict of that architecture."),
    input_size: int = typer.Option(32, "--input-size", min=8, max=1024,
                                   help="The side the weights were trained at, pixels."),
    mean: str = typer.Option("0.5,0.5,0.5", "--mean", help="The normalisation mean per channel (3 numbers)."),
    std: str = typer.Option("0.5,0.5,0.5", "--std", help="The normalisation std per channel (3 numbers)."),
    source: str = typer.Option("user", "--source", help="What the weights were trained on."),
    source_accuracy: float = typer.Option(None, "--source-accuracy", min=0.0, max=1.0,
                                           help="The weights' accuracy on their source data (a meta-feature)."),
) -> None:
    """Register your own ET-NAS model + weights (kept in the user zoo: $NASOA_ZOO_DIR or the data dir)."""
    from nasoa.zoo import build

    check_name(name, "member name")
    try:
        m = tuple(float(v) for v in mean.split(","))
        s = tuple(float(v) for v in std.split(","))
    except ValueError:
        raise NasoaError("--mean and --std take 3 comma-separated numbers, e.g. 0.5,0.5,0.5") from None
    rec = build.add_user_member(name, encoding, weights, input_size, m, s, source, source_accuracy)
    typer.echo(f"added {rec['name']} ({rec['encoding']}, {rec['params'] / 1e6:.2f}M params) to the user zoo")

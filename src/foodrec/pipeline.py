"""``foodrec demo``: the whole workflow on the embedded synthetic city, as a pipeline of steps.

Each step runs the same command a user would type (``foodrec generate``, ``foodrec ingest``, ...), so the
demo doubles as a worked example; ``--steps`` picks a subset, and ``foodrec demo --list`` shows them.

>>> [step.name for step in STEPS][:3]
['generate', 'ingest', 'eda']
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import typer

from foodrec.errors import FoodrecError, InputError


@dataclass
class DemoRun:
    """Where one demo run writes, and what its steps left for the next ones."""

    out: Path
    seed: int
    server: subprocess.Popen | None = None
    port: int | None = None
    produced: dict[str, str] = field(default_factory=dict)
    server_cpu: float = 0.0  # CPU seconds of background servers already stopped
    timings: list[dict[str, float | str]] = field(default_factory=list)  # per step: wall and CPU seconds

    def cpu_seconds(self) -> float:
        """CPU seconds (user + system, all threads) used so far by this process and its background servers."""
        return _own_cpu() + self.server_cpu + _process_cpu(self.server)

    @property
    def city(self) -> Path:
        return self.out / "city"

    @property
    def store(self) -> Path:
        return self.out / "store"

    @property
    def model(self) -> Path:
        return self.out / "model"


@dataclass(frozen=True)
class Step:
    name: str
    title: str
    run: Callable[[DemoRun], None]


def _cli(*args: str, ok: tuple[int, ...] = (0,)) -> int:
    """Run one foodrec command in-process, exactly as typed on the command line; ``ok`` lists accepted exit codes,
    and the code is returned (``foodrec run`` uses it)."""
    from foodrec.cli import main

    printable = " ".join(args)
    typer.secho(f"$ foodrec {printable}", fg="cyan")
    code = main(list(args))
    if code not in ok:
        raise FoodrecError(f"demo step `foodrec {printable}` failed with exit code {code}")
    return code


def _generate(run: DemoRun) -> None:
    _cli("generate", "--out", str(run.city), "--seed", str(run.seed))


def _ingest(run: DemoRun) -> None:
    _cli("ingest", str(run.city), "--store", str(run.store))
    run.produced["ingest summary"] = str(run.store / "ingest_summary.json")


def _eda(run: DemoRun) -> None:
    report = run.out / "eda.html"
    _cli("eda", "--store", str(run.store), "--out", str(report), "--json-out", str(run.out / "eda.json"))
    run.produced["EDA report"] = str(report)


def _baselines(run: DemoRun) -> None:
    _cli("baselines", "--store", str(run.store), "--out", str(run.out / "baselines.json"))
    run.produced["baseline leaderboard"] = str(run.out / "baselines.json")


def _train(run: DemoRun) -> None:
    # The demo skips the capacity x learning-rate search to stay within minutes; `foodrec train` searches by default.
    _cli("train", "--store", str(run.store), "--out", str(run.model), "--seed", str(run.seed), "--no-search")
    run.produced["model"] = str(run.model)
    run.produced["training report"] = str(run.model / "training_report.html")


def _evaluate(run: DemoRun) -> None:
    _cli(
        "evaluate",
        "--store",
        str(run.store),
        "--recommender",
        str(run.model),
        "--out",
        str(run.out / "evaluation.json"),
    )
    run.produced["model evaluation"] = str(run.out / "evaluation.json")


# The two-stage experiment: interleaving picks (few customers), then an A/B test sized by its own power analysis
# confirms on orders per customer, read sequentially (foodrec.experiments.stages).
INTERLEAVING_CUSTOMERS, INTERLEAVING_DAYS, AB_DAYS = 2000, 7, 14
AB_MDE, AB_MAX_CUSTOMERS = 0.05, 16000
# Requests the simulator keeps in flight: the service micro-batches them, so more in flight costs less CPU per
# visit (server CPU per visit 8.8 ms at 8, 6.8 ms at 32, 7.3 ms at 64; see /tmp/notes/demo-speed.md).
SIM_CONCURRENCY = 32


def _start_server(run: DemoRun, config: dict, name: str, events: str) -> None:
    """Start `foodrec serve` in the background on ``config`` (written to ``name``.json), events to ``events``."""
    ab = run.out / f"{name}.json"
    ab.write_text(json.dumps({"salt": f"demo-{run.seed}-{name}", **config}, indent=2))
    run.port = _free_port()
    args = [
        sys.executable, "-m", "foodrec.cli", "serve", "--recommender", str(run.model), "--store", str(run.store),
        "--ab", str(ab), "--events", str(run.out / events), "--port", str(run.port),
    ]  # fmt: skip
    log = (run.out / f"server-{name}.log").open("w")
    typer.secho(f"$ foodrec {' '.join(args[3:])}  (in the background)", fg="cyan")
    env = {**os.environ, "FOODREC_ADMIN_TOKEN": _admin_token()}  # the simulator's paired truth needs it
    run.server = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    _wait_ready(run, timeout=180)
    run.produced["service"] = f"http://127.0.0.1:{run.port}/ (stopped at the end of the demo)"


def _admin_token() -> str:
    """One random admin token per demo process, shared with the simulator through FOODREC_ADMIN_TOKEN."""
    import secrets

    return os.environ.setdefault("FOODREC_ADMIN_TOKEN", secrets.token_hex(16))


def _serve(run: DemoRun) -> None:
    # Stage 1: every customer sees one list merged from customer-history and the model (team draft).
    config = {"variants": {"history": "customer-history", "model": str(run.model.resolve())},
              "split": {"history": 0.5, "model": 0.5}, "interleave": ["history", "model"]}  # fmt: skip
    _start_server(run, config, "interleaving", "interleaving.sqlite")


def _interleave(run: DemoRun) -> None:
    from foodrec.experiments.command import pre_period, read_events, write_json
    from foodrec.experiments.stages import size_ab

    _admin_token()
    _cli(
        "simulate", "--url", f"http://127.0.0.1:{run.port}", "--city", str(run.store), "--seed", str(run.seed),
        "--customers", str(INTERLEAVING_CUSTOMERS), "--days", str(INTERLEAVING_DAYS), "--max-requests", "200000",
        "--max-seconds", "900", "--concurrency", str(SIM_CONCURRENCY),
        "--out", str(run.out / "interleaving_simulation.json"),
    )  # fmt: skip
    _stop_server(run)
    _cli(
        "abtest", "--events", str(run.out / "interleaving.sqlite"), "--truth",
        str(run.out / "interleaving_simulation.json"), "--json-out", str(run.out / "interleaving.json"),
    )  # fmt: skip
    run.produced["interleaving"] = str(run.out / "interleaving.json")
    picked = json.loads((run.out / "interleaving.json").read_text())["decision"]
    if picked.get("variant") != "model":
        typer.secho("interleaving did not pick the model: no A/B test is started", fg="yellow")
        return
    # Stage 2, sized before it starts from what stage 1 saw: baseline, spread, CUPED correlation.
    events = read_events(str(run.out / "interleaving.sqlite"))
    start = events.loc[events["type"] == "impression", "occurred_at"].min()
    plan = size_ab(events, pre_period(str(run.store), start), mde=AB_MDE)
    plan["customers"] = min(2 * plan["required_per_arm"], AB_MAX_CUSTOMERS)
    write_json(run.out / "ab_plan.json", plan)
    typer.echo(
        f"A/B plan: {plan['required_per_arm']:,} customers per arm for a {AB_MDE:.0%} lift at 80% power "
        f"(baseline {plan['baseline']:.3f} orders per customer, CUPED correlation {plan['rho']:.2f}); "
        f"simulating {plan['customers']:,}"
    )
    config = {"variants": {"control": "customer-history", "model": str(run.model.resolve())},
              "split": {"control": 0.5, "model": 0.5}}  # fmt: skip
    _start_server(run, config, "ab", "events.sqlite")


def _simulate(run: DemoRun) -> None:
    plan_file = run.out / "ab_plan.json"
    if run.server is None or not plan_file.is_file():
        typer.secho("no A/B test is running (see the interleaving step)", fg="yellow")
        return
    customers = json.loads(plan_file.read_text())["customers"]
    _admin_token()
    _cli(
        "simulate", "--url", f"http://127.0.0.1:{run.port}", "--city", str(run.store), "--seed", str(run.seed + 1),
        "--customers", str(customers), "--days", str(AB_DAYS), "--max-requests", "400000",
        "--max-seconds", "1200", "--concurrency", str(SIM_CONCURRENCY), "--out", str(run.out / "simulation.json"),
    )  # fmt: skip


def _abtest(run: DemoRun) -> None:
    _stop_server(run)
    if not (run.out / "events.sqlite").is_file():
        typer.secho("no A/B test was run (see the interleaving step)", fg="yellow")
        return
    # Read daily with a group-sequential test planned at the sample size fixed before the test (ab_plan.json).
    planned = json.loads((run.out / "ab_plan.json").read_text())["required_per_arm"]
    _cli(
        "abtest", "--events", str(run.out / "events.sqlite"), "--control", "control", "--store", str(run.store),
        "--sequential", "--sequential-method", "gst", "--planned-per-arm", str(planned), "--mde", str(AB_MDE),
        "--truth", str(run.out / "simulation.json"),
        "--out", str(run.out / "abtest.html"), "--json-out", str(run.out / "abtest.json"),
    )  # fmt: skip
    run.produced["A/B report"] = str(run.out / "abtest.html")


def _drift(run: DemoRun) -> None:
    # Exit code 3 means "drift found, retraining recommended": a finding, not a failure of the demo.
    _cli(
        "drift",
        "--store",
        str(run.store),
        "--recommender",
        str(run.model),
        "--out",
        str(run.out / "drift.json"),
        ok=(0, 3),
    )
    run.produced["drift check"] = str(run.out / "drift.json")


def _report(run: DemoRun) -> None:
    report = run.out / "stakeholder_report.html"
    _cli("report", "--store", str(run.store), "--results", str(run.out), "--out", str(report))
    run.produced["stakeholder report"] = str(report)


STEPS: tuple[Step, ...] = (
    Step("generate", "Generate the synthetic city", _generate),
    Step("ingest", "Ingest and validate its order log", _ingest),
    Step("eda", "Explore the data (EDA report)", _eda),
    Step("baselines", "Score the non-ML baselines", _baselines),
    Step("train", "Train the Keras recommender", _train),
    Step("evaluate", "Evaluate the model on the test period", _evaluate),
    Step("serve", "Start the service with an interleaving experiment (customer-history vs model)", _serve),
    Step("interleave", "Simulate customers on the interleaved lists, pick, size the A/B test", _interleave),
    Step("simulate", "Simulate customers in the A/B test", _simulate),
    Step("abtest", "Read the A/B test sequentially and decide", _abtest),
    Step("drift", "Check for drift", _drift),
    Step("report", "Write the stakeholder report", _report),
)


def run_demo(out: Path, seed: int = 7, steps: list[str] | None = None, fresh: bool = True) -> DemoRun:
    """Run the chosen steps (all by default) in order; always stops the background server."""
    names = [s.name for s in STEPS]
    chosen = steps or names
    unknown = [s for s in chosen if s not in names]
    if unknown:
        raise InputError(f"unknown demo step(s) {', '.join(unknown)}: choose from {', '.join(names)}")
    if fresh and not steps and out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    run = DemoRun(out=out, seed=seed)
    started, cpu_started = time.perf_counter(), run.cpu_seconds()
    try:
        selected = [s for s in STEPS if s.name in chosen]
        for number, step in enumerate(selected, start=1):
            t0, c0 = time.perf_counter(), run.cpu_seconds()
            typer.secho(f"\n[{number}/{len(selected)}] {step.title}", bold=True)
            step.run(run)
            wall, cpu = time.perf_counter() - t0, run.cpu_seconds() - c0
            run.timings.append({"step": step.name, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1)})
            typer.secho(f"    done in {wall:.1f}s ({cpu:.1f} CPU s)", fg="green")
    finally:
        _stop_server(run)
    wall, cpu = time.perf_counter() - started, run.cpu_seconds() - cpu_started
    run.timings.append({"step": "total", "wall_s": round(wall, 1), "cpu_s": round(cpu, 1)})
    (out / "timings.json").write_text(json.dumps(run.timings, indent=2))
    typer.secho("\nTime per step (CPU = user + system of the demo and its background servers):", bold=True)
    for row in run.timings:
        typer.echo(f"  {row['step']:11s} {row['wall_s']:8.1f} s wall {row['cpu_s']:8.1f} s CPU")
    typer.secho(f"\nfoodrec demo finished in {wall:.0f}s. What it wrote:", bold=True)
    for label, path in run.produced.items():
        typer.echo(f"  {label:22s} {path}")
    return run


def register(app: typer.Typer) -> None:
    """Add ``demo`` to the foodrec CLI."""

    @app.command()
    def demo(
        out: Path = typer.Option(Path("runs/demo"), "--out", help="Folder for everything the demo writes."),
        seed: int = typer.Option(7, "--seed", help="Seed of the synthetic city and of training."),
        steps: str = typer.Option("", "--steps", help="Comma-separated subset of steps, e.g. generate,ingest,eda."),
        list_steps: bool = typer.Option(False, "--list", help="List the steps and exit."),
    ) -> None:
        """Run the whole workflow on the embedded synthetic city: generate → ingest → EDA → baselines → train →
        evaluate → serve → interleaving (pick) → A/B sized by its power analysis, read sequentially → drift →
        report."""
        if list_steps:
            for step in STEPS:
                typer.echo(f"{step.name:10s} {step.title}")
            return
        chosen = [s.strip() for s in steps.split(",") if s.strip()] or None
        run_demo(out, seed=seed, steps=chosen)


# -- the background server ---------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(run: DemoRun, timeout: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{run.port}/readyz"
    while time.monotonic() < deadline:
        if run.server is not None and run.server.poll() is not None:
            raise FoodrecError(f"the service exited early (code {run.server.returncode}); see {run.out / 'server.log'}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise FoodrecError(f"the service did not become ready in {timeout:.0f}s; see {run.out / 'server.log'}")


def _own_cpu() -> float:
    import psutil

    times = psutil.Process().cpu_times()
    return times.user + times.system  # not children_*: a stopped server is counted by _stop_server


def _process_cpu(proc: subprocess.Popen | None) -> float:
    """CPU seconds of a running background process (0 once it has exited)."""
    import psutil

    if proc is None or proc.poll() is not None:
        return 0.0
    try:
        times = psutil.Process(proc.pid).cpu_times()
    except psutil.Error:
        return 0.0
    return times.user + times.system + times.children_user + times.children_system


def _stop_server(run: DemoRun) -> None:
    if run.server is None or run.server.poll() is not None:
        return
    run.server_cpu += _process_cpu(run.server)
    os.killpg(run.server.pid, signal.SIGTERM)
    try:
        run.server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(run.server.pid, signal.SIGKILL)
        run.server.wait()

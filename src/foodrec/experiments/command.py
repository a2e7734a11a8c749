"""``foodrec simulate`` (customers of a synthetic city using a running service) and ``foodrec abtest``.

Heavy libraries (scipy, statsmodels, matplotlib) are imported inside the commands so ``foodrec --help`` stays fast.

    foodrec simulate --url http://127.0.0.1:8000 --city runs/demo/store --customers 2000 --days 14 --out sim.json
    foodrec abtest --events runs/demo/events.sqlite --control control --store runs/demo/store --out ab.html
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import typer

from foodrec.errors import InputError

EVENT_FILE_SUFFIXES = (".csv", ".parquet", ".jsonl", ".json")


def read_events(url_or_path: str) -> Any:
    """Events as a DataFrame from the service's event store (SQLite path or postgresql:// URL) or an exported file."""
    import pandas as pd

    text = str(url_or_path)
    path = Path(text)
    if "://" not in text and path.suffix.lower() in EVENT_FILE_SUFFIXES:
        if not path.is_file():
            raise InputError(f"events file {text!r} does not exist")
        try:
            if path.suffix.lower() == ".csv":
                return pd.read_csv(path, dtype={"event_id": str, "customer_id": str, "variant": str})
            if path.suffix.lower() == ".parquet":
                return pd.read_parquet(path)
            return pd.read_json(path, lines=path.suffix.lower() == ".jsonl", dtype={"customer_id": str})
        except (ValueError, OSError) as err:
            raise InputError(f"events file {text!r} is unreadable: {err}") from err
    if "://" not in text or text.startswith("sqlite:///"):
        file = Path(text.removeprefix("sqlite:///"))
        if not file.is_file():  # opening would create an empty database: refuse instead
            raise InputError(f"event store {text!r} does not exist (the service writes it: `foodrec serve --events`)")
    from foodrec.serving.events import open_event_store

    store = open_event_store(text)
    try:
        return store.read_events()
    except Exception as err:  # a file that is not an event database: one line, not a traceback
        raise InputError(f"event store {text!r} is unreadable: {err}") from err
    finally:
        store.close()


def pre_period(store_dir: str, before: Any, days: int = 28) -> Any:
    """Spend and orders per customer in the ``days`` before ``before`` (the experiment's start), from a store.

    An order's value is its ``order_total`` (once per order), else the sum of ``unit_price * quantity``.
    """
    import pandas as pd

    from foodrec.data.store import Store

    store = Store.open(store_dir)
    end = pd.Timestamp(before)
    orders = store.orders(until=end)
    orders = orders[orders["ordered_at"] >= end - pd.Timedelta(days=days)]
    if orders.empty:
        return pd.DataFrame({"spend": pd.Series(dtype="float64"), "orders": pd.Series(dtype="float64")})
    if "order_total" in orders.columns and orders["order_total"].notna().any():
        per_order = orders.groupby("order_id").agg(customer_id=("customer_id", "first"), value=("order_total", "first"))
    elif "unit_price" in orders.columns:
        qty = orders["quantity"].fillna(1) if "quantity" in orders.columns else 1
        orders = orders.assign(value=orders["unit_price"].fillna(0) * qty)
        per_order = orders.groupby("order_id").agg(customer_id=("customer_id", "first"), value=("value", "sum"))
    else:
        per_order = orders.groupby("order_id").agg(customer_id=("customer_id", "first")).assign(value=1.0)
    per_customer = per_order.groupby("customer_id")["value"].agg(spend="sum", orders="size").astype("float64")
    per_customer.index = per_customer.index.astype(str)
    return per_customer


def _parse_split(text: str | None) -> dict[str, float] | None:
    """``control=0.5,model=0.5``, or the path of the service's A/B config (its variants' shares)."""
    if not text:
        return None
    if Path(text).is_file():
        from foodrec.serving.ab import load_ab_config

        return {v.name: v.share for v in load_ab_config(text).variants if v.share > 0}
    out: dict[str, float] = {}
    for part in text.split(","):
        name, sep, share = part.partition("=")
        try:
            value = float(share)
        except ValueError:
            value = math.nan
        if not sep or not name.strip() or not (value > 0 and math.isfinite(value)):
            raise InputError(f"--split {text!r}: use NAME=SHARE pairs (control=0.5,model=0.5) or an A/B config file")
        out[name.strip()] = value
    return out


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def write_json(path: str | os.PathLike[str], payload: Any) -> Path:
    """Write JSON atomically (NaN becomes null)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_nan_to_none(payload), indent=2, default=_json_default)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(text + "\n", encoding="utf-8")
    os.replace(tmp, target)
    return target


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_nan_to_none(v) for v in value]
    return value


def _print_result(result: Any, decision: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title="Variants (exposed customers)")
    for col in ("variant", "customers", "conversion", "orders/customer", "revenue/customer", "AOV"):
        table.add_column(col, justify="left" if col == "variant" else "right")
    for r in result.variants.itertuples():
        table.add_row(str(r.variant), f"{r.customers:,}", f"{r.conversion:.2%}", f"{r.orders_per_customer:.3f}",
                      f"{r.revenue_per_customer:.2f}", "—" if r.aov != r.aov else f"{r.aov:.2f}")  # fmt: skip
    console.print(table)
    comp = Table(title=f"Against {result.control}")
    for col in ("treatment", "metric", "lift", "95% CI", "p", "test"):
        comp.add_column(col, justify="left" if col in ("treatment", "metric", "test") else "right")
    for r in result.comparisons.itertuples():
        ci = "—" if r.lift_low != r.lift_low else f"{r.lift_low:+.1%} … {r.lift_high:+.1%}"
        mark = " *" if r.significant else ""
        comp.add_row(str(r.treatment), r.metric, f"{r.lift:+.1%}{mark}", ci, f"{r.p_value:.3g}", r.test)
    console.print(comp)
    for g in result.guardrails.itertuples():
        console.print(f"guardrail {g.guardrail} ({g.treatment}): {g.status} ({g.lift:+.1%})")
    srm = result.srm
    console.print(f"sample ratio: {'ok' if srm['ok'] else 'MISMATCH'} (chi-square p = {srm['p_value']:.3g})")
    style = {"roll out": "bold green", "stop": "bold red"}.get(decision.action, "bold yellow")
    target = f" {decision.variant}" if decision.variant else ""
    console.print(f"decision: {decision.action}{target}", style=style)
    for reason in decision.reasons:
        console.print(f"  - {reason}")


def _interleaving_only(frame: Any) -> bool:
    """True when every event belongs to an interleaving experiment (variant ``interleaved``)."""
    return bool(len(frame)) and bool((frame["variant"].astype(str) == "interleaved").all())


def _interleaving(frame: Any, events: str, alpha: float, power: float, truth: str | None, out: str | None,
                  json_out: str | None) -> None:  # fmt: skip
    """``foodrec abtest`` on an interleaving experiment: preference share, its test, the pick."""
    from foodrec.experiments.interleaving import analyze_interleaving, interleaving_decision

    result = analyze_interleaving(frame, alpha=alpha, power=power)
    decision = interleaving_decision(result)
    a, b = result["teams"]
    lo, hi = result["ci"]
    typer.echo(
        f"interleaving {a} vs {b}: {result['customers']:,} customers, {result['visits'] or 0:,} visits, "
        f"{result['visits_with_preference']:,} with a preference (wins {a} {result['wins'][a]:,}, "
        f"{b} {result['wins'][b]:,})"
    )
    typer.echo(f"preference for {b}: {result['preference_share']:.1%} (95% CI {lo:.1%} to {hi:.1%}), "
               f"p = {result['p_value']:.3g}")  # fmt: skip
    target = f" {decision['variant']}" if decision["variant"] else ""
    typer.secho(f"decision: {decision['action']}{target}", bold=True)
    for reason in decision["reasons"]:
        typer.echo(f"  - {reason}")
    payload: dict[str, Any] = {"events": str(events), "experiment": "interleaving", "interleaving": result,
                               "decision": decision}  # fmt: skip
    if truth:
        try:
            payload["truth"] = json.loads(Path(truth).read_text())
        except (OSError, ValueError) as err:
            raise InputError(f"--truth {truth!r}: {err}") from err
    json_path = json_out or (str(Path(out).with_suffix(".json")) if out else "abtest.json")
    typer.echo(f"json: {write_json(json_path, payload)}")


def _print_simulation(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(
        f"{summary['requests']:,} requests, {summary['events_stored']:,} events stored "
        f"({summary['events_duplicate']:,} duplicates) in {summary['seconds']:.0f} s; stopped: {summary['stopped']}"
    )
    table = Table(title="Ground truth per variant (expected values from the choice model)")
    columns = (
        "variant",
        "customers",
        "conversion",
        "orders/customer",
        "revenue/customer",
        "P(order)/visit",
        "true orders lift",
    )
    for col in columns:
        table.add_column(col, justify="left" if col == "variant" else "right")
    for name, v in summary["variants"].items():
        truth = summary["true_lift"].get(name, {})
        lift, se = truth.get("orders_per_customer"), truth.get("orders_per_customer_se") or 0.0
        table.add_row(name, f"{v['customers']:,}", f"{v['expected_conversion']:.2%}",
                      f"{v['expected_orders_per_customer']:.3f}", f"{v['expected_revenue_per_customer']:.2f}",
                      f"{v['p_order_per_visit']:.3f}",
                      "control" if lift is None else f"{lift:+.1%} ± {1.96 * se:.1%}")  # fmt: skip
    console.print(table)
    if summary.get("best_variant"):
        console.print(f"truly better variant: {summary['best_variant']}")
    for name, p in (summary.get("paired_true_lift") or {}).items():
        lo, hi = p["ci"]
        console.print(
            f"paired truth ({p['visits']:,} visits priced under every list): {name} vs {summary['paired_control']} "
            f"{p['orders_per_visit']:+.2%} orders per visit (95% CI {lo:+.2%} to {hi:+.2%}), "
            f"{p['revenue_per_visit']:+.2%} revenue per visit"
        )
    for arm, a in (summary.get("arm_imbalance") or {}).get("arms", {}).items():
        if "vs_control_arm" in a:
            lo, hi = a["vs_control_arm"]["ci"]
            console.print(
                f"arm imbalance: with {summary['paired_control']}'s list, arm {arm} would order "
                f"{a['vs_control_arm']['lift']:+.2%} per visit vs the control arm (95% CI {lo:+.2%} to {hi:+.2%})"
            )


def register(app: typer.Typer) -> None:
    """Add ``simulate`` and ``abtest`` to the foodrec CLI."""

    @app.command("abtest")
    def abtest(
        events: str = typer.Option(..., "--events", help="SQLite file, postgresql:// URL or .csv/.parquet/.jsonl."),
        control: str = typer.Option(None, "--control", help="Control variant (default: 'control' if present)."),
        mde: float = typer.Option(0.05, "--mde", help="Minimum detectable effect, relative (0.05 = 5% lift)."),
        alpha: float = typer.Option(0.05, "--alpha", help="Significance level (split over treatments when several)."),
        power: float = typer.Option(0.8, "--power", help="Power wanted at the MDE (sample size)."),
        primary: str = typer.Option("orders_per_customer", help="orders_per_customer|conversion|revenue_per_customer"),
        store: str = typer.Option(None, "--store", help="foodrec store: pre-period spend for CUPED."),
        pre_days: int = typer.Option(28, "--pre-days", help="Days before the test used for CUPED."),
        split: str = typer.Option(None, "--split", help="Planned split for SRM: control=0.5,model=0.5 or ab.toml."),
        n_boot: int = typer.Option(2000, "--n-boot", help="Bootstrap resamples for the revenue CI (0 turns it off)."),
        seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap."),
        truth: str = typer.Option(None, "--truth", help="JSON of `foodrec simulate --out`, shown in the report."),
        out: str = typer.Option(None, "--out", help="HTML report path."),
        json_out: str = typer.Option(None, "--json-out", help="JSON result (default: --out as .json)."),
        sequential: bool = typer.Option(False, "--sequential", help="Read the primary metric with an always-valid "
                                        "test over daily looks: safe to re-run every day and stop early."),
        sequential_method: str = typer.Option("msprt", "--sequential-method", help="msprt (always valid, open-ended)"
                                              " or gst (group-sequential, O'Brien-Fleming spending, planned end)."),
        planned_per_arm: int = typer.Option(None, "--planned-per-arm", help="gst: customers per arm planned before "
                                            "the test (default: the power analysis' sample size for --mde)."),
    ) -> None:  # fmt: skip
        """Analyse an A/B test from the service's events: per-variant metrics, tests, CUPED, SRM, power, decision."""
        if not 0 < mde < 10:
            raise InputError(f"--mde must be a relative lift between 0 and 10 (e.g. 0.05), got {mde}")
        if not 0 < power < 1:
            raise InputError(f"--power must be between 0 and 1, got {power}")
        if n_boot < 0 or pre_days < 1:
            raise InputError("--n-boot must be >= 0 and --pre-days >= 1")
        from foodrec.experiments.analysis import analyze, normalise_events
        from foodrec.experiments.decision import decide

        frame = read_events(events)
        if len(frame) == 0:
            raise InputError(f"event store {events!r} holds no events yet")
        if _interleaving_only(frame):
            _interleaving(frame, events, alpha, power, truth, out, json_out)
            return
        pre = None
        if store:
            ev = normalise_events(frame)
            start = ev.loc[ev["type"] == "impression", "occurred_at"].min()
            if start == start:  # not NaT
                pre = pre_period(store, start, pre_days)
        truth_data = None
        if truth:
            try:
                truth_data = json.loads(Path(truth).read_text())
            except (OSError, ValueError) as err:
                raise InputError(f"--truth {truth!r}: {err}") from err
            if not isinstance(truth_data, dict) or not isinstance(truth_data.get("true_lift", {}), dict):
                raise InputError(f"--truth {truth!r}: not the JSON written by `foodrec simulate --out`")
        result = analyze(frame, control=control, alpha=alpha, pre_period=pre, n_boot=n_boot, seed=seed,
                         expected_split=_parse_split(split), primary=primary)  # fmt: skip
        decision = decide(result, mde=mde, power=power)
        seq = None
        if sequential:
            from foodrec.experiments.sequential import decide_sequential, sequential_ab

            metric = "revenue" if primary == "revenue_per_customer" else "orders"
            if primary == "conversion":
                raise InputError("--sequential reads orders_per_customer or revenue_per_customer, not conversion")
            if sequential_method not in ("msprt", "gst"):
                raise InputError(f"--sequential-method {sequential_method!r}: choose msprt or gst")
            if planned_per_arm is not None and planned_per_arm < 2:
                raise InputError(f"--planned-per-arm must be at least 2, got {planned_per_arm}")
            per_arm = planned_per_arm or decision.power_detail.get("required_per_arm")
            seq = sequential_ab(frame, result.control, list(result.treatments), mde, alpha, metric,
                                pre if pre is not None and len(pre) else None, sequential_method,
                                per_arm)  # fmt: skip
            decision = decide_sequential(result, seq, mde, power)
        _print_result(result, decision)
        payload = {"events": str(events), "mde": mde, "power": power, **result.to_dict(),
                   "decision": decision.to_dict()}  # fmt: skip
        if seq is not None:
            payload["sequential"] = seq
        if truth_data is not None:
            from foodrec.experiments.analysis import truth_check

            payload["truth"] = truth_data
            check = truth_check(result, truth_data)
            payload["truth_check"] = json.loads(check.to_json(orient="records"))
            for r in check.itertuples():
                verdict = "covers" if r.covers_truth else "MISSES"
                typer.echo(
                    f"truth: {r.treatment} {r.metric} true {r.true_lift:+.1%}, estimated {r.estimated_lift:+.1%}"
                    f" (CI {r.lift_low:+.1%} to {r.lift_high:+.1%}) {verdict}"
                )
        if out:
            from foodrec.experiments.report import build_report

            path = build_report(result, decision, mde, truth=truth_data).write(out)
            typer.echo(f"report: {path}")
        json_path = json_out or (str(Path(out).with_suffix(".json")) if out else "abtest.json")
        typer.echo(f"json: {write_json(json_path, payload)}")

    @app.command("simulate")
    def simulate(
        url: str = typer.Option(..., "--url", help="The running service, loopback only: http://127.0.0.1:PORT."),
        city: str = typer.Option(..., "--city", help="`foodrec generate` folder or store of a synthetic city."),
        customers: int = typer.Option(1000, "--customers", help="Customers drawn from the city."),
        days: int = typer.Option(7, "--days", help="Simulated days, starting after the city's last order."),
        max_requests: int = typer.Option(20000, "--max-requests", help="Stop after this many recommendation requests."),
        max_seconds: float = typer.Option(300.0, "--max-seconds", help="Stop after this much wall-clock time."),
        k: int = typer.Option(10, "--k", help="Recommendations asked per request."),
        concurrency: int = typer.Option(8, "--concurrency", help="Requests in flight at once."),
        seed: int = typer.Option(0, "--seed", help="Seed: same city, same service, same seed -> same customers."),
        out: str = typer.Option("simulation.json", "--out", help="JSON with the true effect of each variant."),
        admin_token: str = typer.Option(None, "--admin-token", envvar="FOODREC_ADMIN_TOKEN", show_default=False,
                                        help="The service's admin token: price every visit under every variant's "
                                             "list too (paired_true_lift)."),
    ) -> None:  # fmt: skip
        """Customers of a synthetic city ask the service for recommendations and order (or not) by the ground truth."""
        from foodrec.experiments.simulator import SimulationConfig, run_simulation

        config = SimulationConfig(url=url, city=city, customers=customers, days=days, max_requests=max_requests,
                                  max_seconds=max_seconds, k=k, seed=seed, concurrency=concurrency,
                                  admin_token=admin_token or None)  # fmt: skip
        summary = run_simulation(config)
        _print_simulation(summary)
        typer.echo(f"truth: {write_json(out, summary)}")

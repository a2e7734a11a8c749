"""The training report: loss and NDCG@10 curves (train vs validation) and a plain verdict.

Verdict rules (on validation NDCG@10 per epoch, the metric model selection uses):

* **overfitting from epoch N** - validation NDCG peaked at epoch N, then fell by more than 1% while the training
  NDCG kept rising (the weights of epoch N are the ones kept); on a log large enough for validation to be checked
  several times a pass, the verdict names the check and its passes (``check 2 (0.667 passes)``);
* **underfitting** - the model is no better than popularity on validation, or it was still improving by more than
  1% per epoch when the epoch budget ran out (train longer or give it more capacity);
* **fine** otherwise.

>>> rows = [{"epoch": e, "ndcg10": 0.3 + 0.05 * e, "val_ndcg10": v, "loss": 1.0, "val_loss": 1.0}
...         for e, v in [(1, 0.30), (2, 0.34), (3, 0.33), (4, 0.31)]]
>>> verdict(rows)[0]
'overfitting from epoch 2'
>>> verdict(rows[:2], popularity_ndcg=0.2)[0]
'underfitting'
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from foodrec.reports.html import HtmlReport


def verdict(curves: list[dict], popularity_ndcg: float | None = None) -> tuple[str, str]:
    """``(label, explanation)`` from per-epoch rows with ``ndcg10`` and ``val_ndcg10``."""
    if not curves:
        return "no epochs", "No epoch finished, so there is nothing to judge."
    val = [r["val_ndcg10"] for r in curves]
    train = [r["ndcg10"] for r in curves]
    best_i = max(range(len(val)), key=val.__getitem__)
    best = val[best_i]
    within_pass = any(r.get("passes", r["epoch"]) != r["epoch"] for r in curves)
    at = check_name(curves[best_i]["epoch"], curves[best_i].get("passes", 1.0), within_pass)
    if popularity_ndcg is not None and best <= popularity_ndcg * 1.01:
        return "underfitting", (
            f"Validation NDCG@10 {best:.4f} is no better than popularity ({popularity_ndcg:.4f}): "
            "the model has not learned anything beyond what is popular."
        )
    if best_i < len(val) - 1 and val[-1] < best * 0.99 and train[-1] > train[best_i]:
        return f"overfitting from {at}", (
            f"Validation NDCG@10 peaked at {best:.4f} in {at} and then fell to {val[-1]:.4f}"
            f" while training NDCG@10 kept rising; the weights of {at} are kept."
        )
    if best_i == len(val) - 1 and len(val) >= 2 and val[-1] > val[-2] * 1.01:
        return "underfitting", (
            f"Validation NDCG@10 was still rising ({val[-2]:.4f} -> {val[-1]:.4f}) when training "
            "stopped: more epochs or more capacity would likely help."
        )
    return "fine", (
        f"Validation NDCG@10 reached {best:.4f} in {at} and stopped improving without a sign of overfitting."
    )


def selection_section(report: HtmlReport, selection: dict | None) -> None:
    """What serves (network, strongest baseline or their blend) and the validation evidence for the choice."""
    if not selection:
        return
    evidence = selection.get("evidence") or {}
    kind = selection.get("kind", "network")
    what = {
        "network": "the network",
        "baseline": f"the baseline {selection.get('baseline')}",
        "blend": f"a blend of the network and {selection.get('baseline')} (weight {selection.get('weight')})",
    }
    new_kind = selection.get("new_customers", "network")  # older models: the head
    new_what = (
        "the network's cold-start head"
        if new_kind == "network"
        else "area x meal-time popularity (the cold-start head must beat it on validation by more than two standard "
        "errors of the paired difference per order)"
    )
    if "skipped" in evidence:
        report.section(
            "Model selection",
            f"Serving the network; selection skipped: {evidence['skipped']}. Customers without history: {new_what}.",
        )
        return
    report.section(
        "Model selection",
        f"Serving {what.get(kind, kind)}. Chosen on validation only: the blend weight and the strongest baseline were "
        f"learned on the first time block ({evidence['learn_block']['orders']:,} orders), the choice made on the "
        f"later block ({evidence['choose_block']['orders']:,} orders), before the refit (the network had not seen "
        f"these days). Customers without history: {new_what}.",
    )
    margins = evidence.get("margin_over_network", {})
    rows = [
        {
            "candidate": k,
            "val_ndcg10 (choice block)": v,
            **{f"vs network {m}": x for m, x in margins.get(k, {}).items()},
        }
        for k, v in evidence.get("choose_ndcg10", {}).items()
    ]
    report.table(
        pd.DataFrame(rows),
        float_format="{:,.4f}",
        caption="NDCG@10 on the later validation block; the network serves unless another wins by more than "
        "'needed' (two standard errors of the paired difference per order)",
    )
    new = evidence.get("new_customers") or {}
    if new.get("orders"):
        margin = new.get("margin") or {}
        flat = {k: v for k, v in new.items() if k != "margin"} | {
            f"head - popularity {m}": x for m, x in margin.items()
        }
        report.table(
            pd.DataFrame([flat]),
            float_format="{:,.4f}",
            caption="New customers' validation orders (both blocks): the cold-start head against area x meal-time "
            "popularity; 'serves' is what answers them (popularity unless the head wins by more than 'needed')",
        )
    base = [r for r in evidence.get("baselines", []) if "error" not in r]
    if base:
        report.table(
            pd.DataFrame(base),
            float_format="{:,.4f}",
            caption="Baselines and learned blend weights "
            f"(first block; the network: {evidence.get('learn_network', float('nan')):.4f})",
        )


def check_name(check: int, passes: float, within_pass: bool) -> str:
    """``epoch N``, or ``check N (P passes)`` when validation is checked within passes over the training orders.

    >>> check_name(2, 2.0, False), check_name(2, 0.667, True)
    ('epoch 2', 'check 2 (0.667 passes)')
    """
    return f"check {check} ({passes:g} passes)" if within_pass else f"epoch {check}"


def write_training_report(
    path: Path, curves: list[dict], info: dict, popularity_ndcg: float | None = None, title: str = "Training report"
) -> tuple[str, str]:
    """Write the HTML report; returns the verdict."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    label, text = verdict(curves, popularity_ndcg)
    report = HtmlReport(title, subtitle=f"level {info.get('level', '?')}, training cutoff {info.get('cutoff', '?')}")
    report.section("Verdict", "")
    report.note(f"{label}: {text}", kind="good" if label == "fine" else "warn")
    val_info = info.get("validation") or {}
    if val_info.get("refit") and val_info.get("refit_mode") == "warm":
        report.note(
            "The served model then continued from these weights for one pass over the newest "
            f"{val_info.get('n_refit_examples', 0):,} validation-day orders (a warm start: the latest days say most "
            "about the future); its own validation score cannot be measured, since it has seen those days."
        )
    elif val_info.get("refit"):
        report.note(
            f"The served model was then trained again with the chosen setting for {val_info.get('best_epoch')} "
            "epoch(s) on all training days, validation days included (the latest days say most about the "
            "future); its own validation score cannot be measured, since it has seen those days."
        )
    frame = pd.DataFrame(curves)
    if not frame.empty:
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
        for ax, (metric, name) in zip(
            axes, [("loss", "loss (softmax cross-entropy)"), ("ndcg10", "NDCG@10")], strict=True
        ):
            x = frame["passes"] if "passes" in frame else frame["epoch"]
            ax.plot(x, frame[metric], marker="o", label="train")
            if f"val_{metric}" in frame:
                ax.plot(x, frame[f"val_{metric}"], marker="o", label="validation")
            if metric == "ndcg10" and popularity_ndcg is not None:
                ax.axhline(popularity_ndcg, color="grey", linestyle="--", label="popularity (validation)")
            ax.set_xlabel("passes over the training orders" if "passes" in frame else "epoch")
            ax.set_title(name)
            ax.legend()
        report.section(
            "Curves",
            "Training NDCG@10 is measured on a sample of training orders with the same "
            "candidates as serving; validation orders only see features from before the validation cutoff.",
        )
        report.figure(fig, caption="Loss and NDCG@10 per epoch, train vs validation")
        report.table(frame, caption="Per-epoch values")
    search = info.get("search") or []
    if search:
        rows = [{**r["params"], "val_ndcg10": r["val_ndcg10"], "folds": len(r.get("folds", []))} for r in search]
        report.section(
            "Capacity x learning-rate search",
            "Scored on validation only (time-blocked folds for "
            "logs under 50k orders); the best setting is trained again as the final model.",
        )
        report.table(pd.DataFrame(rows), float_format="{:,.4g}")
    selection_section(report, (info.get("validation") or {}).get("selection"))
    facts = {k: v for k, v in info.items() if k not in ("search",) and not isinstance(v, dict | list)}
    facts.update({f"validation.{k}": v for k, v in (info.get("validation") or {}).items() if k != "selection"})
    report.section("Run")
    report.table(pd.DataFrame({"setting": list(facts), "value": [str(v) for v in facts.values()]}))
    report.write(path)
    return label, text

"""One PNG per workload: actorkit beside each peer, medians as bars, min-max as whiskers.

Each peer's bar carries actorkit's ratio to it (green where actorkit is better, red where it is
worse, with the target when there is one). A workload with several figures gets one panel per
figure. Values spanning more than a factor of 30 are drawn on a log scale, and say so.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from .report import DASH, TIMES, fmt_ratio, fmt_value

__all__ = ["write_charts"]

ACTORKIT = "#1f6feb"
PEER = "#9aa4b2"
GOOD = "#1a7f37"
BAD = "#cf222e"


def write_charts(results: dict[str, Any], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for workload in results["workloads"]:
        path = out / f"{workload['name']}.png"
        figure = _chart(plt, workload, results)
        if figure is None:
            continue
        figure.savefig(path, dpi=110)
        plt.close(figure)
        paths.append(path)
    return paths


def _chart(plt: Any, workload: dict[str, Any], results: dict[str, Any]) -> Any:
    metrics = [
        m
        for m in workload["metrics"]
        if any(m["key"] in s.get("summary", {}) for s in workload["systems"].values())
    ]
    if not metrics:
        return None
    width = max(5.2, 1.0 + 1.35 * len(workload["systems"])) * len(metrics)
    figure, axes = plt.subplots(1, len(metrics), figsize=(min(width, 16), 4.6), squeeze=False)
    for axis, metric in zip(axes[0], metrics, strict=True):
        _panel(axis, workload, metric)
    runs = results["runs"]
    chars = int(figure.get_figwidth() * 13)
    subtitle = (
        f"median of {runs} run{'s' if runs != 1 else ''}, each in a fresh process; "
        f"whiskers: min{DASH}max; over each peer: actorkit ÷ that peer (green: actorkit better)"
    )
    title_lines = textwrap.wrap(f"{workload['title']}: {workload['description']}", chars)
    title_lines += textwrap.wrap(subtitle, chars)
    figure.suptitle("\n".join(title_lines), fontsize=9.5)
    missing = [
        f"{s['label']}: n/a ({s['skipped']})"
        for s in workload["systems"].values()
        if s.get("skipped") and not s.get("summary")
    ]
    if missing:
        figure.text(0.01, 0.01, "; ".join(missing), fontsize=7, color="#555555", wrap=True)
    top = 0.99 - 0.034 * len(title_lines)
    figure.tight_layout(rect=(0, 0.05 if missing else 0, 1, top))
    return figure


def _panel(axis: Any, workload: dict[str, Any], metric: dict[str, Any]) -> None:
    from matplotlib.ticker import FuncFormatter

    key, unit = metric["key"], metric["unit"]
    names, medians, lows, highs, colors, systems = [], [], [], [], [], []
    for system_key, system in workload["systems"].items():
        summary = system.get("summary", {}).get(key)
        if summary is None:
            continue
        names.append(
            system["label"].replace(" ", "\n", 1) + "\n" + fmt_value(summary["median"], unit)
        )
        medians.append(summary["median"])
        lows.append(summary["median"] - summary["min"])
        highs.append(summary["max"] - summary["median"])
        colors.append(ACTORKIT if system_key == "actorkit" else PEER)
        systems.append(system_key)
    positions = list(range(len(names)))
    axis.bar(positions, medians, color=colors, width=0.62, zorder=2)
    axis.errorbar(
        positions, medians, yerr=[lows, highs], fmt="none", ecolor="#222222", capsize=4, zorder=3
    )
    axis.set_xticks(positions, names, fontsize=8)
    positive = [m for m in medians if m > 0]
    log = bool(positive) and max(positive) / min(positive) > 30
    if log:
        axis.set_yscale("log")
    better = "higher is better" if metric["higher_is_better"] else "lower is better"
    axis.set_ylabel(metric["label"] + (", log scale" if log else ""), fontsize=9)
    axis.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_value(v, unit)))
    axis.set_title(f"{metric['label']} — {better}", fontsize=10)
    axis.grid(axis="y", alpha=0.3, zorder=0)
    axis.tick_params(axis="y", labelsize=8)
    top = max(m + h for m, h in zip(medians, highs, strict=True))
    if log:
        axis.set_ylim(top=top * 6)
    else:
        axis.set_ylim(0, top * 1.32)
    ratios = workload.get("ratios", {}).get(key, {})
    targets = {t["peer"]: t for t in workload["targets"] if t["metric"] == key}
    for x, system_key, median, high in zip(positions, systems, medians, highs, strict=True):
        label_y = median + high
        ratio = ratios.get(system_key)
        if ratio is None:
            continue
        good = ratio > 1 if metric["higher_is_better"] else ratio < 1
        text = f"ak ÷ this\n{fmt_ratio(ratio)}"
        target = targets.get(system_key)
        if target is not None:
            sign = "≥" if target["op"] == ">=" else "≤"
            verdict = "met" if target["met"] else "missed"
            text += f"\ntarget {sign}{target['factor']:g}{TIMES}: {verdict}"
            good = bool(target["met"])
        axis.annotate(
            text,
            (x, label_y),
            xytext=(0, 12),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=8,
            fontweight="bold",
            color=GOOD if good else BAD,
        )

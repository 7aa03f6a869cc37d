"""The report: the figures table (system by workload, with actorkit's ratio to each peer), the
targets met or missed, and the same as Markdown for ``docs/performance.md``.

Everything here reads the results JSON only, so ``--from-json`` can re-render an old run.
"""

from __future__ import annotations

from typing import Any

from .registry import SYSTEMS

__all__ = ["DASH", "TIMES", "fmt_ratio", "fmt_value", "markdown", "print_report"]

#: The multiplication sign and the en dash of the figures (escaped: ruff flags them as
#: confusable when written out).
TIMES = "\u00d7"
DASH = "\u2013"

Results = dict[str, Any]


def _g3(value: float) -> str:
    """Three significant digits, never in exponent form."""
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"


def fmt_value(value: float | None, unit: str) -> str:
    """A figure in a short, human form: 1.54M msgs/s, 13.6 µs, 4.78 KiB, 812 ms."""
    if value is None:
        return "—"
    if unit in ("µs", "ms"):
        seconds = value / (1e6 if unit == "µs" else 1e3)
        for scale, name in ((1.0, "s"), (1e-3, "ms")):
            if seconds >= scale:
                return f"{_g3(seconds / scale)} {name}"
        return f"{_g3(seconds * 1e6)} µs"
    if unit == "bytes":
        if abs(value) >= 1024 * 1024:
            return f"{_g3(value / 1024 / 1024)} MiB"
        if abs(value) >= 1024:
            return f"{_g3(value / 1024)} KiB"
        return f"{value:.0f} B"
    for limit, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{_g3(value / limit)}{suffix}"
    return _g3(value)


def fmt_ratio(ratio: float) -> str:
    return f"{_g3(ratio)}{TIMES}"


def columns(results: Results) -> list[str]:
    """Every system that appears in the results, in the registry's order."""
    seen: list[str] = []
    for workload in results["workloads"]:
        for key in workload["systems"]:
            if key not in seen:
                seen.append(key)
    order = list(SYSTEMS)
    return sorted(seen, key=lambda k: (order.index(k) if k in order else len(order), k))


def peers(results: Results) -> list[str]:
    return [key for key in columns(results) if key != "actorkit"]


def _header_label(key: str) -> str:
    return SYSTEMS.get(key, key)


def _target_for(workload: dict[str, Any], metric: str, peer: str) -> dict[str, Any] | None:
    for target in workload["targets"]:
        if target["metric"] == metric and target["peer"] == peer:
            return target
    return None


def _cell(workload: dict[str, Any], key: str, metric: dict[str, Any]) -> tuple[str, str]:
    """(median, "min-max") for a system's metric, or why there is none."""
    system = workload["systems"].get(key)
    if system is None:
        return "", ""
    summary = system.get("summary", {}).get(metric["key"])
    if summary is None:
        if system.get("skipped"):
            return "n/a", ""
        if system.get("errors"):
            return "error", ""
        return "—", ""
    unit = metric["unit"]
    if summary["n"] < 2:
        return fmt_value(summary["median"], unit), ""
    low, high = fmt_value(summary["min"], unit), fmt_value(summary["max"], unit)
    low_number, _, low_unit = low.partition(" ")
    if low_unit and high.endswith(" " + low_unit):
        low = low_number  # "14.1-15.3 µs" rather than "14.1 µs-15.3 µs"
    return fmt_value(summary["median"], unit), f"{low}{DASH}{high}"


def _ratio(workload: dict[str, Any], metric: dict[str, Any], peer: str) -> tuple[str, bool | None]:
    """("3.41x ✓≥3", met) for actorkit against ``peer``; met is None without a target."""
    ratio = workload.get("ratios", {}).get(metric["key"], {}).get(peer)
    if ratio is None:
        return "", None
    text = fmt_ratio(ratio)
    target = _target_for(workload, metric["key"], peer)
    if target is None:
        return text, None
    sign = "≥" if target["op"] == ">=" else "≤"
    mark = "✓" if target["met"] else "✗"
    return f"{text} {mark}{sign}{target['factor']:g}", bool(target["met"])


def _better(ratio: float, higher_is_better: bool) -> bool:
    return ratio > 1 if higher_is_better else ratio < 1


def print_report(results: Results, console: Any) -> None:
    machine = results["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items() if v)
    console.print()
    console.print(
        f"[bold]Results[/bold] ({results['size']} size): median of {results['runs']} run(s), "
        f"min{DASH}max below it; {describe_runs(results)}. {machine['cpus']} CPU "
        f"{machine['cpu_model']}, Python {machine['python']}; {versions}; git {machine['git']}"
    )
    console.print(f"[dim]{machine['logging']}.[/dim]")
    console.print(_figures_table(results))
    _print_notes(results, console)
    _print_targets(results, console)
    for workload in results["workloads"]:
        for key, system in workload["systems"].items():
            for error in system["errors"][:1]:
                last = error.strip().splitlines()[-1] if error.strip() else error
                console.print(f"[red]error in {workload['name']} / {key}: {last}[/red]")


def describe_runs(results: Results) -> str:
    """How one run's sample was taken, e.g. "each run a fresh process, best of 3 repetitions"."""
    repeats = {w["title"]: w.get("repeats", 1) for w in results["workloads"]}
    usual = max(set(repeats.values()), key=list(repeats.values()).count) if repeats else 1
    text = "each run a fresh process"
    if usual > 1:
        text += f", its figure the best of {usual} timed repetitions after a warm-up"
        others = sorted(t for t, r in repeats.items() if r != usual)
        if others:
            text += f" ({', '.join(others)}: one)"
    return text


def _figures_table(results: Results) -> Any:
    from rich import box
    from rich.table import Table

    systems = columns(results)
    table = Table(box=box.SIMPLE_HEAVY, show_lines=False, pad_edge=False)
    table.add_column("workload", style="bold")
    table.add_column("figure")
    for key in systems:
        style = "bold cyan" if key == "actorkit" else None
        table.add_column(_header_label(key), justify="right", header_style=style, style=style)
    for peer in peers(results):
        table.add_column(f"ak ÷ {_header_label(peer)}", justify="right")
    previous_group = None
    for workload in results["workloads"]:
        if previous_group is not None and workload["group"] != previous_group:
            table.add_section()
        previous_group = workload["group"]
        for i, metric in enumerate(workload["metrics"]):
            arrow = "↑" if metric["higher_is_better"] else "↓"
            row = [workload["title"] if i == 0 else "", f"{metric['label']} {arrow}"]
            for key in systems:
                median, spread = _cell(workload, key, metric)
                row.append(f"{median}\n[dim]{spread}[/dim]" if spread else median)
            row.extend(_styled_ratio(workload, metric, peer) for peer in peers(results))
            table.add_row(*row)
    return table


def _styled_ratio(workload: dict[str, Any], metric: dict[str, Any], peer: str) -> str:
    text, met = _ratio(workload, metric, peer)
    ratio = workload.get("ratios", {}).get(metric["key"], {}).get(peer)
    if met is True:
        return f"[green]{text}[/green]"
    if met is False:
        return f"[red]{text}[/red]"
    if ratio is not None and not _better(ratio, metric["higher_is_better"]):
        return f"[yellow]{text}[/yellow]"
    return text


def _print_notes(results: Results, console: Any) -> None:
    console.print(
        "[dim]↑ higher is better, ↓ lower is better; ak ÷ X is actorkit's median over X's "
        "(✓/✗: target met/missed; yellow: actorkit behind, no target). Savina times include "
        "creating the actors.[/dim]"
    )
    for workload in results["workloads"]:
        if workload.get("note"):
            console.print(f"[dim]• {workload['note']}[/dim]")
    for workload in results["workloads"]:
        for key, system in workload["systems"].items():
            if system.get("skipped"):
                label = _header_label(key)
                console.print(
                    f"[dim]• n/a: {workload['title']} / {label}: {system['skipped']}[/dim]"
                )


def _print_targets(results: Results, console: Any) -> None:
    from rich import box
    from rich.table import Table

    targets = [t for w in results["workloads"] for t in w["targets"]]
    if not targets:
        return
    verdicts = Table(title="Targets", box=box.SIMPLE_HEAVY, title_justify="left")
    verdicts.add_column("target")
    verdicts.add_column("actorkit ÷ peer", justify="right")
    verdicts.add_column("verdict")
    for target in targets:
        if target["ratio"] is None:
            verdicts.add_row(target["text"], "—", "[yellow]not measured[/yellow]")
        else:
            verdict = "[green]met[/green]" if target["met"] else "[red]MISSED[/red]"
            verdicts.add_row(target["text"], fmt_ratio(target["ratio"]), verdict)
    console.print(verdicts)
    met = sum(bool(t["met"]) for t in targets)
    console.print(f"[bold]{met} of {len(targets)} targets met.[/bold]")


def markdown(results: Results) -> str:
    """The figures and targets tables as Markdown (for docs/performance.md)."""
    systems = columns(results)
    others = peers(results)
    head = ["workload", "figure"] + [_header_label(k) for k in systems]
    head += [f"ak ÷ {_header_label(p)}" for p in others]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for workload in results["workloads"]:
        for i, metric in enumerate(workload["metrics"]):
            arrow = "↑" if metric["higher_is_better"] else "↓"
            row = [workload["title"] if i == 0 else "", f"{metric['label']} {arrow}"]
            for key in systems:
                median, spread = _cell(workload, key, metric)
                cell = f"{median} <br><small>{spread}</small>" if spread else median
                row.append(f"**{cell}**" if key == "actorkit" and spread else cell)
            row.extend(_ratio(workload, metric, peer)[0] for peer in others)
            lines.append("| " + " | ".join(row) + " |")
    lines += ["", "| target | actorkit ÷ peer | verdict |", "|---|---|---|"]
    for workload in results["workloads"]:
        for target in workload["targets"]:
            if target["ratio"] is None:
                lines.append(f"| {target['text']} | — | not measured |")
            else:
                verdict = "met" if target["met"] else "**missed**"
                lines.append(f"| {target['text']} | {fmt_ratio(target['ratio'])} | {verdict} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import json
    import sys
    from pathlib import Path

    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "results/latest.json"
    sys.stdout.write(markdown(json.loads(path.read_text())))

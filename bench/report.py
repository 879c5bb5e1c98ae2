"""The cross-platform benchmark report: reads bench/results/*.json (written by the benchmarks of one run of
bench/run.sh, each with its reference measured in the same run) and writes docs/benchmarks.png (four panels:
deploy time against the raw commands, an unchanged re-run against a one-task playbook, a savepoint upgrade's downtime
against the operator's, an unchanged re-run's cost by TaskManager count) and bench/results/report.md (the figures as
tables, for docs/benchmarks.md). Platforms without results are left out and named. Not a test.

Needs matplotlib (bench/run.sh puts it in a virtual environment of its own: $FLINKOPS_CACHE/venv-bench).
"""

from __future__ import annotations

import json
import os
import statistics
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(REPO, "bench", "results")
CHART = os.path.join(REPO, "docs", "benchmarks.png")
# platform -> the benchmark file with its deploy and re-run figures
DEPLOY = (("Docker", "session_deploy"), ("Swarm", "swarm_session"), ("Compose", "compose_session"),
          ("Kubernetes native", "native_session"), ("Operator", "operator_application"))
SCALING = (("docker", "Docker"), ("swarm", "Swarm"), ("compose", "Compose"), ("kubernetes", "Kubernetes native"),
           ("operator", "Operator"))
DOWNTIME = (("docker", "Docker"), ("compose", "Compose"), ("native", "Kubernetes native"), ("operator", "Operator"))


def load(name):
    path = os.path.join(RESULTS, name + ".json")
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return json.load(handle)


def deploy_rows():
    rows, missing = [], []
    for label, name in DEPLOY:
        data = load(name)
        if data is None:
            missing.append(label)
            continue
        med, samples = data["median_seconds"], data["samples_seconds"]
        rows.append({"platform": label, "raw": med["raw"], "module": med["playbook"],
                     "ratio": med["playbook"] / med["raw"], "rerun": med["rerun"], "noop": med["noop"],
                     "over_noop": med["rerun"] - med["noop"], "rounds": len(samples["playbook"]),
                     "load": data.get("load_average_before", [0])[0]})
    return rows, missing


def scaling_rows():
    data = load("scaling")
    if data is None:
        return None, [label for _key, label in SCALING]
    rows = {}
    for key, label in SCALING:
        if key in data["platforms"]:
            rows[label] = dict((int(count), row) for count, row in data["platforms"][key].items())
    return data, [label for key, label in SCALING if key not in data["platforms"]]


def downtime_rows():
    data = load("operator_application")
    if data is None or "downtime_median_seconds" not in data:
        return []
    med = data["downtime_median_seconds"]
    return [{"platform": label, "downtime": med[key], "ratio": med[key] / med["operator"],
             "samples": [r["downtime"] for r in data["savepoint_upgrade"][key]]}
            for key, label in DOWNTIME if key in med]


def markdown(deploys, missing_deploy, scaling, missing_scaling, downtimes):
    lines = ["### Deploy and unchanged re-run, per platform (medians; each against its reference, same run)", "",
             "| platform | raw commands | module | ratio (target <= 1.0x) | unchanged re-run | one-task playbook | "
             "difference (target <= 0.2 s) | rounds |", "|---|---|---|---|---|---|---|---|"]
    for r in deploys:
        lines.append("| %s | %.2f s | %.2f s | **%.2fx** | %.2f s | %.2f s | **%+.2f s** | %d |" % (
            r["platform"], r["raw"], r["module"], r["ratio"], r["rerun"], r["noop"], r["over_noop"], r["rounds"]))
    if missing_deploy:
        lines.append("\nNot measured in this run: %s." % ", ".join(missing_deploy))
    if downtimes:
        lines += ["", "### Savepoint upgrade of the same stateful job: downtime (last record before, first after)",
                  "", "| platform | median | ratio to the operator | samples |", "|---|---|---|---|"]
        for r in downtimes:
            lines.append("| %s | %.1f s | %.2fx | %s |" % (r["platform"], r["downtime"], r["ratio"], ", ".join(
                "%.1f" % s for s in r["samples"])))
    if scaling:
        data, rows = scaling
        counts = data["counts"]
        lines += ["", "### Unchanged re-run minus one-task playbook, by TaskManager count (medians of %d each)" %
                  data["repeats"], "", "| platform | %s | spread |" % " | ".join("%d TM" % c for c in counts),
                  "|---|%s---|" % ("---|" * len(counts))]
        for label, by_count in rows.items():
            values = [by_count[c]["rerun_minus_noop"] for c in counts if c in by_count]
            lines.append("| %s | %s | %.2f s |" % (label, " | ".join("%+.2f s" % v for v in values),
                                                   max(values) - min(values)))
        if missing_scaling:
            lines.append("\nNot measured in this run: %s." % ", ".join(missing_scaling))
    return "\n".join(lines) + "\n"


def chart(deploys, scaling, downtimes):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    (deploy_ax, rerun_ax), (downtime_ax, scale_ax) = axes
    names = [r["platform"] for r in deploys]
    deploy_ax.bar(names, [r["ratio"] for r in deploys], color="#4878a8")
    deploy_ax.axhline(1.0, color="#c44e52", linestyle="--", label="target 1.0x (the raw commands)")
    deploy_ax.set_title("Deploy: module time / raw commands' time")
    deploy_ax.set_ylabel("ratio")
    for i, r in enumerate(deploys):
        deploy_ax.text(i, r["ratio"], "%.2fx\n%.0f s vs %.0f s" % (r["ratio"], r["module"], r["raw"]),
                       ha="center", va="bottom", fontsize=8)
    deploy_ax.legend(loc="lower right", fontsize=8)
    deploy_ax.set_ylim(0, max([r["ratio"] for r in deploys] + [1.0]) * 1.35)

    rerun_ax.bar(names, [r["over_noop"] for r in deploys], color="#55a868")
    rerun_ax.axhline(0.2, color="#c44e52", linestyle="--", label="target +0.2 s")
    rerun_ax.set_title("Unchanged re-run minus a one-task playbook")
    rerun_ax.set_ylabel("seconds")
    for i, r in enumerate(deploys):
        rerun_ax.text(i, max(r["over_noop"], 0), "%+.2f s" % r["over_noop"], ha="center", va="bottom", fontsize=8)
    rerun_ax.legend(loc="upper left", fontsize=8)

    if downtimes:
        downtime_ax.bar([r["platform"] for r in downtimes], [r["downtime"] for r in downtimes], color="#8172b2")
        for i, r in enumerate(downtimes):
            downtime_ax.text(i, r["downtime"], "%.1f s (%.2fx)" % (r["downtime"], r["ratio"]), ha="center",
                             va="bottom", fontsize=8)
        downtime_ax.set_ylim(0, max(r["downtime"] for r in downtimes) * 1.25)
    downtime_ax.set_title("Savepoint upgrade downtime of the same job (ratio to the operator)")
    downtime_ax.set_ylabel("seconds")

    if scaling:
        data, rows = scaling
        for label, by_count in rows.items():
            counts = sorted(by_count)
            scale_ax.plot(counts, [by_count[c]["rerun_minus_noop"] for c in counts], marker="o", label=label)
        scale_ax.axhline(0.2, color="#c44e52", linestyle="--", label="target +0.2 s")
        scale_ax.set_xscale("log", base=2)
        scale_ax.set_xticks(data["counts"])
        scale_ax.set_xticklabels([str(c) for c in data["counts"]])
        scale_ax.set_ylim(0, max([0.25] + [r["rerun_minus_noop"] for by in rows.values() for r in by.values()]) * 1.2)
        scale_ax.legend(fontsize=8)
    scale_ax.set_title("Unchanged re-run minus a one-task playbook, by TaskManager count")
    scale_ax.set_xlabel("TaskManagers")
    scale_ax.set_ylabel("seconds")
    for ax in (deploy_ax, rerun_ax, downtime_ax):
        ax.tick_params(axis="x", labelsize=8)
    fig.suptitle("flinkops.flink on every platform (2-core VM; medians, references measured in the same run)")
    fig.tight_layout()
    fig.savefig(CHART, dpi=90)
    return CHART


def main():
    deploys, missing_deploy = deploy_rows()
    data, missing_scaling = scaling_rows()
    scaling = None
    if data is not None:
        scaling = (data, dict((label, dict((int(c), row) for c, row in data["platforms"][key].items()))
                              for key, label in SCALING if key in data["platforms"]))
    downtimes = downtime_rows()
    if not deploys and not scaling:
        raise SystemExit("no results in %s: run bench/run.sh first" % RESULTS)
    text = markdown(deploys, missing_deploy, scaling, missing_scaling, downtimes)
    with open(os.path.join(RESULTS, "report.md"), "w") as handle:
        handle.write(text)
    print(text)
    print("chart: %s" % chart(deploys, scaling, downtimes))
    if deploys:
        print("median deploy ratio over platforms: %.2fx" % statistics.median(r["ratio"] for r in deploys))
    return 0


if __name__ == "__main__":
    sys.exit(main())

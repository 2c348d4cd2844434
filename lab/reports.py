"""The lab's reports as files: Markdown (the table for humans), CSV (every number), PNG (charts).
The table writers serve every experiment (the partition experiment's too); the rest is the burst
report's, from a lab.experiments.BurstReport."""
import csv
import textwrap
from pathlib import Path

from matplotlib.figure import Figure

# (attribute of ModeResult, Markdown header, format); the CSV has these and more.
TABLE = (
    ("mode", "mode", "{}"),
    ("requests", "requests", "{:,}"),
    ("http_2xx", "2xx", "{:,}"),
    ("http_4xx", "4xx", "{:,}"),
    ("http_5xx", "5xx", "{:,}"),
    ("issued", "coupons issued (rows)", "{:,}"),
    ("stock_decrement", "total − remaining", "{:,}"),
    ("oversold", "oversold", "{:,}"),
    ("lost_updates", "lost updates", "{:,}"),
    ("users_with_several_coupons", "users with 2+ coupons", "{:,}"),
    ("p50_ms", "p50 ms", "{:.1f}"),
    ("p95_ms", "p95 ms", "{:.1f}"),
    ("p99_ms", "p99 ms", "{:.1f}"),
    ("requests_per_s", "req/s", "{:,.0f}"),
    ("last_decision_s", "last decision s", "{:.2f}"),
    ("verdict", "verdict", "{}"),
)
CSV_COLUMNS = ("mode", "campaign_id", "stock", "requests", "http_2xx", "http_4xx", "http_5xx", "no_answer",
               "issued", "sold_out", "duplicates", "stock_decrement", "oversold", "lost_updates",
               "users_with_several_coupons", "p50_ms", "p95_ms", "p99_ms", "requests_per_s",
               "last_decision_s", "verdict")
LEGEND = """\
- *coupons issued*: `SUCCESS` rows in `participation`; *total − remaining*: what the stock column
  says was taken. *oversold* = issued − stock when positive; *lost updates* = issued − (total −
  remaining): coupons whose stock decrement another request overwrote.
- *users with 2+ coupons*: users holding more than one `SUCCESS` (the unique decision key makes it
  0 for every strategy).
- Latencies and req/s are k6's (`http_req_duration`, `http_reqs`), client side. *last decision*:
  from the first request the server received to the last decision committed, from the rows; for
  `kafka` it includes the consumer working through the queue after the last `202`.
"""


def _cell(result, attribute, fmt):
    value = getattr(result, attribute)
    return "–" if value is None else fmt.format(value)


def markdown_table(headers, rows, *, left=()) -> list[str]:
    """A Markdown table's lines: the columns named in `left` aligned left, the others right."""
    return ["| " + " | ".join(headers) + " |",
            "|" + "|".join(" --- " if header in left else " ---: " for header in headers) + "|",
            *("| " + " | ".join(str(cell) for cell in row) + " |" for row in rows)]


def csv_write(path, columns, rows) -> None:
    with open(path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(columns)
        writer.writerows(rows)


def markdown(report) -> str:
    lines = [f"## Burst report, {report.started_at:%Y-%m-%d %H:%M %Z}", "", report.plan.describe() + ".", ""]
    lines += [f"- {name}: {value}" for name, value in report.environment.items()]
    lines += ["", *markdown_table([header for _, header, _ in TABLE],
                                  [[_cell(result, attribute, fmt) for attribute, _, fmt in TABLE]
                                   for result in report.results], left=("mode", "verdict"))]
    return "\n".join(lines) + "\n\n" + LEGEND


def write_csv(report, path):
    csv_write(path, CSV_COLUMNS, [["" if (v := getattr(result, c)) is None else v for c in CSV_COLUMNS]
                                  for result in report.results])


def write_chart(report, path):
    modes = [r.mode for r in report.results]
    x = range(len(modes))
    figure = Figure(figsize=(11, 8), layout="constrained")
    figure.suptitle(textwrap.fill(report.plan.describe(), 110), fontsize=10)
    (outcome, latency), (throughput, decision) = figure.subplots(2, 2)

    def grouped(axes, series, title, ylabel, fmt="%.0f"):
        width = 0.8 / len(series)
        for i, (label, values) in enumerate(series):
            bars = axes.bar([p + (i - (len(series) - 1) / 2) * width for p in x], values, width, label=label)
            axes.bar_label(bars, fmt=fmt, fontsize=7)
        axes.set_xticks(list(x), modes)
        axes.set_title(title)
        axes.set_ylabel(ylabel)
        if len(series) > 1:
            axes.legend(fontsize=8)

    grouped(outcome, [("coupons issued (rows)", [r.issued for r in report.results]),
                      ("total − remaining", [r.stock_decrement for r in report.results])],
            "Coupons vs stock", "coupons")
    outcome.axhline(report.plan.stock, color="red", linestyle="--", linewidth=1, label=f"stock {report.plan.stock}")
    outcome.legend(fontsize=8)
    grouped(latency, [(p, [getattr(r, f"{p}_ms") for r in report.results]) for p in ("p50", "p95", "p99")],
            "Web latency (k6)", "ms")
    grouped(throughput, [("req/s", [r.requests_per_s for r in report.results])], "Requests per second (k6)", "req/s")
    grouped(decision, [("s", [r.last_decision_s or 0 for r in report.results])],
            "First request → last decision (DB)", "seconds", fmt="%.2f")
    figure.savefig(path, dpi=110)


def save(report, out_dir) -> dict:
    """Write report.md, report.csv and report.png into out_dir; returns {kind: path}."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": out_dir / "report.md", "csv": out_dir / "report.csv", "chart": out_dir / "report.png"}
    paths["markdown"].write_text(markdown(report))
    write_csv(report, paths["csv"])
    write_chart(report, paths["chart"])
    return paths

// Live dashboard: polls the snapshot once a second and draws the last five minutes with uPlot.
// Snapshots carry cumulative counters stamped with the server's clock (`at`); every rate here is
// the difference between two successive snapshots divided by the difference of their `at`.
(function () {
  "use strict";
  const root = document.getElementById("dashboard");
  if (!root) return;

  const SNAPSHOT_URL = `${root.dataset.snapshotUrl}?campaign_id=${encodeURIComponent(root.dataset.campaignId)}`;
  const PERIOD_MS = 1000;
  const WINDOW_S = 300;
  const css = getComputedStyle(document.documentElement);
  const color = (name) => css.getPropertyValue(`--${name}`).trim();
  const PARTITION_COLORS = ["#2563eb", "#16a34a", "#dc2626", "#7c3aed", "#f59e0b", "#0891b2", "#db2777", "#65a30d"];
  const count = new Intl.NumberFormat("en-US");
  const oneDecimal = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });

  // Columnar data for uPlot: [times, series1, series2, ...].
  const data = {
    rates: [[], [], [], []],
    decisions: [[], [], [], [], []],
    cpu: [[], [], []],
    lag: null,
  };
  const charts = {};
  let previous = null;

  // --- helpers ------------------------------------------------------------------------------
  function field(name, text) {
    for (const el of root.querySelectorAll(`[data-field="${name}"]`)) el.textContent = text;
  }
  const fmt = (v) => (v === null || v === undefined ? "–" : count.format(v));
  const fmtRate = (v) => (v === null ? "–" : oneDecimal.format(v));
  const fmtPct = (v) => (v === null ? "–" : `${oneDecimal.format(v)} %`);

  function rate(now, before, pick) {
    if (!before) return null;
    const a = pick(before), b = pick(now), dt = now.at - before.at;
    if (a === null || b === null || a === undefined || b === undefined || dt <= 0 || b < a) return null;
    return (b - a) / dt;
  }

  function consumersCpuSeconds(snapshot, pids) {
    return snapshot.cpu.consumers.filter((p) => pids.has(p.pid)).reduce((sum, p) => sum + p.cpu_seconds, 0);
  }

  function cpuShares(now, before) {
    if (!before) return { host: null, consumers: null };
    const h1 = before.cpu.host, h2 = now.cpu.host;
    const total = h2.total_seconds - h1.total_seconds;
    const host = total > 0 ? (100 * (h2.busy_seconds - h1.busy_seconds)) / total : null;
    // Only processes present in both snapshots: one that started or exited has no interval.
    const common = new Set(before.cpu.consumers.map((p) => p.pid).filter((pid) => now.cpu.consumers.some((p) => p.pid === pid)));
    const wall = (now.at - before.at) * h2.cores;
    const used = consumersCpuSeconds(now, common) - consumersCpuSeconds(before, common);
    return { host, consumers: wall > 0 && common.size ? Math.max(0, (100 * used) / wall) : (now.cpu.consumers.length ? null : 0) };
  }

  function push(columns, values) {
    values.forEach((v, i) => columns[i].push(v));
    const oldest = values[0] - WINDOW_S;
    while (columns[0].length && columns[0][0] < oldest) columns.forEach((c) => c.shift());
  }

  // --- charts -------------------------------------------------------------------------------
  function makeChart(id, series, yLabel, opts = {}) {
    const el = document.getElementById(id);
    const chart = new uPlot({
      width: el.clientWidth || 600,
      height: 240,
      cursor: { drag: { x: false, y: false } },
      // At least 30 s on the time axis, so a fresh page does not tick in half-seconds.
      scales: { x: { time: true, range: (u, min, max) => [Math.min(min, max - 30), max] },
                y: opts.yRange ? { range: opts.yRange } : { auto: true } },
      axes: [
        { stroke: "#6b7686", grid: { stroke: "#eef1f5" } },
        { stroke: "#6b7686", grid: { stroke: "#eef1f5" }, label: yLabel, size: 60,
          values: (u, ticks) => ticks.map((t) => count.format(t)) },
      ],
      series: [{}, ...series.map((s) => ({ width: 2, points: { show: false }, ...s }))],
    }, opts.data, el);
    new ResizeObserver(() => chart.setSize({ width: el.clientWidth, height: 240 })).observe(el);
    return chart;
  }

  charts.rates = makeChart("chart-rates", [
    { label: "Kafka ingest", stroke: color("ingest"), value: (u, v) => fmtRate(v) },
    { label: "Consumed", stroke: color("consumed"), value: (u, v) => fmtRate(v) },
    { label: "DB commits", stroke: color("commits"), value: (u, v) => fmtRate(v) },
  ], "msg/s", { data: data.rates });
  charts.decisions = makeChart("chart-decisions", [
    { label: "SUCCESS", stroke: color("success") },
    { label: "SOLD_OUT", stroke: color("sold-out") },
    { label: "DUPLICATE", stroke: color("duplicate") },
    { label: "Remaining stock", stroke: "#94a3b8", dash: [6, 4] },
  ], "requests", { data: data.decisions });
  charts.cpu = makeChart("chart-cpu", [
    { label: "Host", stroke: color("host"), fill: "rgba(14,165,233,.08)", value: (u, v) => fmtPct(v) },
    { label: "Consumers", stroke: color("consumers"), value: (u, v) => fmtPct(v) },
  ], "%", { data: data.cpu, yRange: [0, 100] });

  function lagChart(partitions) {
    if (charts.lag && data.lag && data.lag.length === partitions.length + 1) return;
    if (charts.lag) { charts.lag.destroy(); document.getElementById("chart-lag").innerHTML = ""; }
    data.lag = [[], ...partitions.map(() => [])];
    charts.lag = makeChart("chart-lag", partitions.map((p, i) => ({
      label: `partition ${p.partition}`, stroke: PARTITION_COLORS[i % PARTITION_COLORS.length],
    })), "messages", { data: data.lag });
  }

  // --- one snapshot -------------------------------------------------------------------------
  function render(snap) {
    const stream = snap.stream, d = snap.decisions, c = snap.campaign;
    const ingest = rate(snap, previous, (s) => s.stream.published);
    const consumed = rate(snap, previous, (s) => s.stream.consumed);
    const commits = rate(snap, previous, (s) => s.decisions.total);
    const cpu = cpuShares(snap, previous);

    const status = document.getElementById("campaign-status");
    status.textContent = c.status.replace("_", " ");
    status.className = `pill ${c.status}`;
    field("topic", stream.topic);
    field("published", fmt(stream.published));
    field("consumed", fmt(stream.consumed));
    field("lag", fmt(stream.lag));
    const pct = stream.published ? (100 * stream.consumed) / stream.published : null;
    field("progress-pct", pct === null ? "–" : `${oneDecimal.format(pct)} %`);
    document.getElementById("progress-fill").style.width = `${pct || 0}%`;
    field("remaining", fmt(c.remaining_stock));
    field("total-stock", fmt(c.total_stock));
    field("issued", fmt(c.total_stock - c.remaining_stock));
    document.getElementById("stock-fill").style.width = `${(100 * c.remaining_stock) / c.total_stock}%`;
    field("success", fmt(d.SUCCESS));
    field("sold-out", fmt(d.SOLD_OUT));
    field("duplicate", fmt(d.DUPLICATE));
    field("refused-sold-out", fmt(snap.refused_sold_out));
    field("redeemed", fmt(snap.redeemed));
    field("ingest-rate", fmtRate(ingest));
    field("consume-rate", fmtRate(consumed));
    field("commit-rate", fmtRate(commits));
    field("cores", snap.cpu.host.cores);
    field("consumer-count", snap.cpu.consumers.length);
    field("cpu-host", fmtPct(cpu.host));
    field("cpu-consumers", fmtPct(cpu.consumers));
    banner(stream.error);

    push(data.rates, [snap.at, ingest, consumed, commits]);
    push(data.decisions, [snap.at, d.SUCCESS, d.SOLD_OUT, d.DUPLICATE, c.remaining_stock]);
    push(data.cpu, [snap.at, cpu.host, cpu.consumers]);
    if (stream.partitions.length) {
      lagChart(stream.partitions);
      push(data.lag, [snap.at, ...stream.partitions.map((p) => p.lag)]);
      charts.lag.setData(data.lag);
    }
    charts.rates.setData(data.rates);
    charts.decisions.setData(data.decisions);
    charts.cpu.setData(data.cpu);
    previous = snap;
  }

  function banner(message) {
    const el = document.getElementById("banner");
    el.hidden = !message;
    el.textContent = message || "";
  }

  function liveness(ok, text) {
    document.getElementById("live-dot").className = `dot ${ok ? "ok" : "bad"}`;
    document.getElementById("updated").textContent = text;
  }

  async function tick() {
    const started = performance.now();
    try {
      const response = await fetch(SNAPSHOT_URL, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!response.ok) {
        const body = await response.json().catch(() => ({}));
        throw new Error(`snapshot answered ${response.status}${body.detail ? `: ${body.detail}` : ""}`);
      }
      const snap = await response.json();
      render(snap);
      liveness(true, `updated ${new Date(snap.at * 1000).toLocaleTimeString()}`);
    } catch (err) {
      liveness(false, "no data");
      banner(err.message);
    } finally {
      // One request in flight at a time: a slow answer delays the next instead of piling up.
      setTimeout(tick, Math.max(0, PERIOD_MS - (performance.now() - started)));
    }
  }
  tick();
})();

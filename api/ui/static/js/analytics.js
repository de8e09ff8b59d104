// The Analytics view: the prediction log's figures from /v1/analytics, drawn with uPlot
// (vendored under /static/vendor/uplot, served by the API like the rest of the page).
import uPlot from "../vendor/uplot/uPlot.esm.js";
import { explain, getJson } from "./api.js";

// Window choices: hours back from now -> the bucket that keeps a chart readable.
const WINDOWS = { 1: ["minute", 60], 24: ["hour", 3600], 168: ["hour", 3600] };
const EPSILON = 1e-4; // a share's floor in the PSI, as api/analytics/figures.py
const PSI_ALERT = 0.2; // the alert's threshold (deploy/prometheus/alerts.yml)
const COLORS = ["#2f5bd3", "#1f8a4c", "#b3261e", "#f0a500", "#7b3fb3", "#0b8793", "#8a5a00",
  "#c2185b", "#5b6475"];
const charts = new Map();

const query = (params) => new URLSearchParams(
  Object.entries(params).filter(([, value]) => value !== null && value !== undefined),
).toString();

/** Every bucket start (Unix seconds, UTC) of [since, until), as the API buckets them. */
function grid(since, until, step) {
  const starts = [];
  for (let t = Math.floor(since / step) * step; t < until; t += step) starts.push(t);
  return starts;
}

const seconds = (iso) => Date.parse(iso) / 1000;

/** PSI of `recent` label counts against `reference` ones; null when either is empty. */
export function psi(reference, recent) {
  const total = (counts) => Object.values(counts).reduce((sum, n) => sum + n, 0);
  const [q0, r0] = [total(reference), total(recent)];
  if (q0 === 0 || r0 === 0) return null;
  let index = 0;
  for (const label of new Set([...Object.keys(reference), ...Object.keys(recent)])) {
    const q = Math.max((reference[label] ?? 0) / q0, EPSILON);
    const r = Math.max((recent[label] ?? 0) / r0, EPSILON);
    index += (r - q) * Math.log(r / q);
  }
  return index;
}

function draw(id, xs, series, yLabel) {
  const box = document.getElementById(id);
  charts.get(id)?.destroy();
  box.replaceChildren();
  const options = {
    width: Math.max(280, box.clientWidth),
    height: 220,
    scales: { x: { time: true } },
    axes: [{}, { label: yLabel, size: 60 }],
    series: [{}, ...series.map((s, i) => ({
      label: s.label,
      stroke: s.color ?? COLORS[i % COLORS.length],
      width: 2,
      dash: s.dash,
      points: { show: xs.length < 60 },
    }))],
  };
  charts.set(id, new uPlot(options, [xs, ...series.map((s) => s.values)], box));
  box.dataset.series = String(series.length);
}

/** Each bucket's counts of one model, all versions summed: {start: {total, labels}}. */
function perBucket(series) {
  const buckets = new Map();
  for (const s of series) {
    for (const point of s.points) {
      const at = seconds(point.start);
      const sum = buckets.get(at) ?? { total: 0, labels: {} };
      sum.total += point.total;
      for (const [label, n] of Object.entries(point.labels)) {
        sum.labels[label] = (sum.labels[label] ?? 0) + n;
      }
      buckets.set(at, sum);
    }
  }
  return buckets;
}

function render(model, volume, latency, drift, xs) {
  const mine = volume.series.filter((s) => s.model === model);
  const buckets = perBucket(mine);
  draw("chart-volume", xs, mine.map((s) => {
    const byStart = new Map(s.points.map((p) => [seconds(p.start), p.total]));
    return { label: `${s.version} texts`, values: xs.map((x) => byStart.get(x) ?? 0) };
  }), "texts");

  const labels = [...new Set(mine.flatMap((s) => Object.keys(s.labels)))].sort();
  draw("chart-shares", xs, labels.map((label) => ({
    label,
    values: xs.map((x) => {
      const b = buckets.get(x);
      return b ? (b.labels[label] ?? 0) / b.total : null;
    }),
  })), "share");

  // Percentiles of versions cannot be merged: the busiest version's are drawn.
  const busiest = [...latency.series].sort((a, b) => b.count - a.count)[0];
  const points = new Map((busiest?.points ?? []).map((p) => [seconds(p.start), p.percentiles]));
  draw("chart-latency", xs, ["p50", "p90", "p99"].map((p) => ({
    label: `${busiest?.version ?? ""} ${p}`,
    values: xs.map((x) => points.get(x)?.[p] ?? null),
  })), "ms");
  document.getElementById("latency-note").textContent = busiest
    ? `version ${busiest.version}, ${busiest.count} texts with a latency` : "no latencies logged";

  const reference = drift.reference.labels;
  draw("chart-drift", xs, [
    { label: "PSI", values: xs.map((x) => (buckets.has(x) ? psi(reference, buckets.get(x).labels) : null)) },
    { label: "alert", values: xs.map(() => PSI_ALERT), color: "#b3261e", dash: [6, 4] },
  ], "PSI");

  const total = mine.reduce((sum, s) => sum + s.total, 0);
  const cached = mine.reduce((sum, s) => sum + s.cached, 0);
  const figure = drift.psi === null ? "no figure (a window is empty)" : drift.psi.toFixed(2);
  const summary = document.getElementById("analytics-summary");
  summary.textContent = `${model}: ${total} texts, ${(100 * cached / total).toFixed(1)} % from `
    + `the cache. PSI of the window against the week before it: ${figure} `
    + `(reference ${drift.reference.total} texts).`;
  const section = document.getElementById("analytics-section");
  section.dataset.total = String(total);
  section.dataset.psi = drift.psi === null ? "" : String(drift.psi);
}

async function show(picker, choice) {
  const [bucket, step] = WINDOWS[choice.value];
  const until = new Date();
  const since = new Date(until.getTime() - Number(choice.value) * 3600 * 1000);
  const window = { since: since.toISOString(), until: until.toISOString() };
  const volume = await getJson(`/v1/analytics/volume?${query({ ...window, bucket })}`);
  const models = [...new Set(volume.series.map((s) => s.model))].sort();
  const kept = picker.value;
  picker.replaceChildren(...models.map((name) => new Option(name, name)));
  if (models.includes(kept)) picker.value = kept;
  const summary = document.getElementById("analytics-summary");
  const plots = document.getElementById("analytics-charts");
  if (models.length === 0) {
    summary.textContent = "No predictions logged in this window.";
    plots.hidden = true;
    return;
  }
  plots.hidden = false;
  const model = picker.value;
  const [latency, drift] = await Promise.all([
    getJson(`/v1/analytics/latency?${query({ ...window, bucket, model })}`),
    getJson(`/v1/analytics/drift?${query({ ...window, model })}`),
  ]);
  render(model, volume, latency, drift, grid(seconds(window.since), seconds(window.until), step));
}

/** Wire the Analytics view; it loads once, and again on Show or a new model or window. */
export function setUpAnalytics() {
  const section = document.getElementById("analytics-section");
  const form = document.getElementById("analytics-form");
  const picker = document.getElementById("analytics-model");
  const choice = document.getElementById("analytics-window");
  const error = document.getElementById("analytics-error");
  const refresh = async () => {
    section.dataset.ready = "false";
    error.hidden = true;
    try {
      await show(picker, choice);
    } catch (failure) {
      // The log turned off (SPECTRUM_PREDICTION_LOG=false): nothing to show, no view.
      if (failure?.kind === "PredictionLogOff") section.hidden = true;
      error.textContent = explain(failure);
      error.hidden = false;
    }
    section.dataset.ready = "true";
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    refresh();
  });
  picker.addEventListener("change", refresh);
  choice.addEventListener("change", refresh);
  refresh();
}

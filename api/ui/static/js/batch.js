// Many texts: chunks of at most max_texts_per_request through /v1/predict, a live
// progress bar, a results table and a CSV download. (Async jobs will replace the chunking.)
import { ApiError, explain, predict } from "./api.js";
import { ParseError, fromLines, textsOfFile, toCsv } from "./parse.js";

const CONCURRENCY = 2; // overlaps one request's network wait with the next; polite to others
const RETRIES = 3; // for 429/503, each after the Retry-After the API asked for
const SHOWN_ROWS = 1000; // the table shows this many; the CSV has every row

const $ = (id) => document.getElementById(id);
const sleep = (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

/** Ask for one chunk, waiting and retrying when the API says "not now" (429, 503). */
async function predictChunk(texts, onWait) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await predict(texts);
    } catch (error) {
      const busy = error instanceof ApiError && (error.status === 429 || error.status === 503);
      if (!busy || attempt >= RETRIES) throw error;
      const wait = error.retryAfter ?? 1;
      onWait(`${explain(error)} Retrying (${attempt + 1}/${RETRIES}) in ${wait} s…`);
      await sleep(wait);
    }
  }
}

function render(items, results) {
  const labels = [...new Set(results.flatMap((r) => (r ? Object.keys(r.probabilities) : [])))];
  const header = ["#", "where", "text", "label", "score", ...labels.map((l) => `p(${l})`), "cached"];
  const rows = [];
  items.forEach((item, i) => {
    const r = results[i];
    if (!r) return;
    rows.push([i + 1, item.where, item.text, r.label, r.score,
      ...labels.map((l) => r.probabilities[l] ?? ""), r.cached]);
  });

  const headRow = document.createElement("tr");
  for (const name of header) {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = name;
    headRow.append(th);
  }
  $("batch-table").tHead.replaceChildren(headRow);
  $("batch-table").tBodies[0].replaceChildren(...rows.slice(0, SHOWN_ROWS).map((row) => {
    const tr = document.createElement("tr");
    for (const [column, value] of row.entries()) {
      const td = document.createElement("td");
      td.textContent = typeof value === "number" && column > 0 ? value.toFixed(4)
        : typeof value === "boolean" ? (value ? "yes" : "no") : String(value);
      if (column === 3) td.dataset.label = String(value);
      tr.append(td);
    }
    return tr;
  }));

  const link = $("batch-download");
  if (link.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
  const csv = toCsv(header.slice(1), rows.map((row) => row.slice(1)));
  link.href = URL.createObjectURL(new Blob([csv], { type: "text/csv;charset=utf-8" }));
  $("batch-note").textContent = rows.length > SHOWN_ROWS
    ? `(${rows.length} rows; the table shows the first ${SHOWN_ROWS})` : `(${rows.length} rows)`;
  $("batch-output").hidden = rows.length === 0;
}

export function setUpBatch(config) {
  let file = null; // {name, items} while a loaded file is the source, else the textarea is
  let running = false;
  const source = $("batch-source");

  function showError(message) {
    $("batch-error").textContent = message;
    $("batch-error").hidden = !message;
  }

  async function load(picked) {
    try {
      file = { name: picked.name, items: textsOfFile(picked.name, await picked.text()) };
      source.textContent = `Using ${picked.name}: ${file.items.length} texts (typing here switches back to the lines).`;
      showError("");
    } catch (error) {
      file = null;
      source.textContent = "";
      showError(error instanceof ParseError ? `Cannot read ${picked.name}: ${error.message}`
        : `Cannot read ${picked.name}: ${error}`);
    }
  }

  async function run() {
    const all = file ? file.items : fromLines($("batch-text").value);
    const items = all.filter((item) => item.text.trim() !== ""); // the API refuses blank texts
    const skipped = all.length - items.length;
    showError("");
    if (items.length === 0) {
      showError("Nothing to classify: paste some lines or choose a file.");
      return;
    }
    running = true;
    $("batch-submit").disabled = true;
    const size = config.max_texts_per_request;
    const chunks = [];
    for (let start = 0; start < items.length; start += size) chunks.push(start);
    const results = new Array(items.length);
    const progress = $("batch-progress");
    const count = $("batch-count");
    let done = 0;
    let failure = null;
    progress.max = items.length;
    progress.value = 0;
    progress.hidden = false;
    const note = skipped ? ` (${skipped} blank skipped)` : "";
    count.textContent = `0 / ${items.length}${note}`;

    async function lane() {
      while (chunks.length && !failure) {
        const start = chunks.shift();
        const slice = items.slice(start, start + size);
        try {
          const answer = await predictChunk(slice.map((item) => item.text), (m) => showError(m));
          answer.predictions.forEach((p, i) => { results[start + i] = p; });
          done += slice.length;
          progress.value = done;
          count.textContent = `${done} / ${items.length}${note}`;
          showError("");
        } catch (error) {
          // The API numbers texts within the request; say which line of the input it was.
          const where = (d) => d.replace(/texts\[(\d+)\]/g, (_, i) => slice[Number(i)]?.where ?? _);
          failure ??= `Stopped after ${done} of ${items.length}: ${explain(error, where)}`;
        }
      }
    }
    await Promise.all(Array.from({ length: CONCURRENCY }, lane));
    if (failure) showError(failure);
    render(items, results);
    running = false;
    $("batch-submit").disabled = false;
  }

  $("batch-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (!running) run();
  });
  $("batch-text").addEventListener("input", () => {
    file = null;
    $("batch-file").value = "";
    source.textContent = "";
  });
  $("batch-file").addEventListener("change", (event) => {
    if (event.target.files.length) load(event.target.files[0]);
  });
  // A file dropped anywhere on the batch form loads it instead of the browser opening
  // it; dragged text is left alone so it can still be dropped into the box.
  const zone = $("batch-form");
  const carriesFile = (event) => event.dataTransfer?.types.includes("Files");
  zone.addEventListener("dragover", (event) => {
    if (!carriesFile(event)) return;
    event.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    zone.classList.remove("dragging");
    if (!carriesFile(event)) return;
    event.preventDefault();
    if (event.dataTransfer.files.length) load(event.dataTransfer.files[0]);
  });
}

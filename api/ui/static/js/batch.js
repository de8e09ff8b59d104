// Many texts as one job on /v1/jobs: submit (the texts as JSON, a CSV or JSONL file as it
// is), poll it with a progress bar, offer Cancel, then show the results in a table with
// a CSV download.
import {
  ApiError, cancelJob, explain, getJob, jobResults, resultsCsvLink, submitJob,
} from "./api.js";
import { ParseError, fromLines, isJobFile, textsOfFile, toCsv } from "./parse.js";

const RETRIES = 3; // for 429/503, each after the Retry-After the API asked for
const SHOWN_ROWS = 1000; // the table shows this many; the CSV has every row
const FIRST_POLL_S = 0.2; // a small job ends within a poll or two...
const LONGEST_POLL_S = 1; // ...a long one is asked once a second
const ENDED = new Set(["succeeded", "failed", "cancelled"]);

const $ = (id) => document.getElementById(id);
const sleep = (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

/** Call the API, waiting and retrying when it says "not now" (429, 503); `onWait`
 * shows why it waits, and is given "" once a retry succeeds. */
async function patiently(request, onWait) {
  for (let attempt = 0; ; attempt++) {
    try {
      const answer = await request();
      if (attempt > 0) onWait("");
      return answer;
    } catch (error) {
      const busy = error instanceof ApiError && (error.status === 429 || error.status === 503);
      if (!busy || attempt >= RETRIES) throw error;
      const wait = error.retryAfter ?? 1;
      onWait(`${explain(error)} Retrying (${attempt + 1}/${RETRIES}) in ${wait} s…`);
      await sleep(wait);
    }
  }
}

/**
 * The table and the CSV download. `items` are the texts as the page read them, in
 * job order (null when the page could not read the file: the API did); results carry
 * their `index` in the job, and leave out what was never computed.
 */
function render(items, results, labels) {
  const header = ["#", "where", "text", "label", "score", ...labels.map((l) => `p(${l})`),
    "cached", "error"];
  const rows = results.map((r) => {
    const item = items?.[r.index] ?? { where: `row ${r.index + 1}`, text: "" };
    const answer = "error" in r ? ["", "", ...labels.map(() => ""), "", r.error]
      : [r.label, r.score, ...labels.map((l) => r.probabilities[l] ?? ""), r.cached, ""];
    return [r.index + 1, item.where, item.text, ...answer];
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
      if (column === 3 && value !== "") td.dataset.label = String(value);
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


/** `model()` says what to send as "model" for a job (null: none). */
export function setUpBatch(model) {
  // A loaded file while it is the source, else the textarea is: {blob, items, asFile}.
  let file = null;
  let running = false;
  let cancel = null; // while a job runs: asks the API to cancel it
  const source = $("batch-source");

  function showError(message) {
    $("batch-error").textContent = message;
    $("batch-error").hidden = !message;
  }

  async function load(picked) {
    file = { blob: picked, items: null, asFile: isJobFile(picked.name) };
    showError("");
    try {
      file.items = textsOfFile(picked.name, await picked.text());
      source.textContent = `Using ${picked.name}: ${file.items.length} texts (typing here switches back to the lines).`;
    } catch (error) {
      if (!(error instanceof ParseError) || !file.asFile) {
        file = null;
        source.textContent = "";
        showError(`Cannot read ${picked.name}: ${error.message ?? error}`);
        return;
      }
      // The API reads the file, not the page: it is sent anyway and the API says why not.
      source.textContent = `Using ${picked.name} (no preview: ${error.message}).`;
    }
  }

  function show(job, note) {
    const { total, done, failed, skipped } = job.progress;
    const finished = done + failed + skipped;
    const progress = $("batch-progress");
    progress.max = Math.max(total, 1);
    progress.value = finished;
    $("batch-count").textContent = `${finished} / ${total} · ${job.state}${note}`;
  }

  async function run() {
    let items; // what the page read, in the order the job will have
    let payload;
    let skippedBlank = 0;
    if (file?.asFile) {
      items = file.items;
      payload = file.blob;
    } else {
      const all = file ? file.items : fromLines($("batch-text").value);
      items = all.filter((item) => item.text.trim() !== ""); // the API refuses blank texts
      skippedBlank = all.length - items.length;
      payload = items.map((item) => item.text);
      if (items.length === 0) {
        showError("Nothing to classify: paste some lines or choose a file.");
        return;
      }
    }
    const note = skippedBlank ? ` (${skippedBlank} blank skipped)` : "";
    // The API numbers JSON texts (texts[3]); say which line of the input it was.
    const where = (d) => d.replace(/texts\[(\d+)\]/g, (_, i) => items?.[Number(i)]?.where ?? _);
    showError("");
    $("batch-output").hidden = true;
    $("batch-job").textContent = "";
    const chosen = model(); // the job keeps the model it was submitted with
    running = true;
    $("batch-submit").disabled = true;
    $("batch-progress").value = 0;
    $("batch-progress").hidden = false;
    $("batch-count").textContent = `Submitting${note}…`;
    let created = null;
    try {
      created = await patiently(() => submitJob(payload, chosen), showError);
      $("batch-job").textContent = `job ${created.id}`;
      let job = await patiently(() => getJob(created.status_url), showError);
      const cancelButton = $("batch-cancel");
      cancel = async () => {
        cancelButton.disabled = true;
        try {
          job = await cancelJob(created.status_url);
        } catch (error) {
          // 409: it ended first; the next poll says how.
          if (!(error instanceof ApiError && error.status === 409)) showError(explain(error));
        }
      };
      cancelButton.disabled = false;
      cancelButton.hidden = false;
      for (let wait = FIRST_POLL_S; ; wait = Math.min(wait * 1.5, LONGEST_POLL_S)) {
        show(job, note);
        if (ENDED.has(job.state)) break;
        await sleep(wait);
        if (!ENDED.has(job.state)) job = await patiently(() => getJob(created.status_url), showError);
      }
      cancelButton.hidden = true;
      cancel = null;
      const results = await patiently(() => jobResults(created.results_url), showError);
      $("batch-api-csv").href = await resultsCsvLink(created.results_url);
      // Texts shown beside results only when the page read the job as the API did.
      const shownItems = items?.length === job.progress.total ? items : null;
      render(shownItems, results, job.labels);
      const { total, failed } = job.progress;
      if (job.state === "cancelled") {
        // Skipped texts are counted as workers meet their chunks: the count is what was done.
        $("batch-count").textContent = `Cancelled: ${results.length} of ${total} classified${note}.`;
      } else if (job.state === "failed") {
        showError(`The job failed: ${failed} of ${total} texts could not be classified `
          + "(the reason is in the error column).");
      }
    } catch (error) {
      if (created === null) {
        $("batch-count").textContent = `Not submitted${note}.`;
        showError(`Stopped: ${explain(error, where)}`);
      } else {
        // The job itself goes on: only the page stopped following it.
        showError(`Stopped following job ${created.id} (${created.status_url}): ${explain(error)}`);
      }
    } finally {
      $("batch-cancel").hidden = true;
      cancel = null;
      running = false;
      $("batch-submit").disabled = false;
    }
  }

  $("batch-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (!running) run();
  });
  $("batch-cancel").addEventListener("click", () => cancel?.());
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

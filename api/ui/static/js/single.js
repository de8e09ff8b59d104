// One text: classify on Enter, draw a bar per label.
import { explain, predict } from "./api.js";

const EXAMPLES = [
  "What a wonderful film, I loved every minute.",
  "Dull, slow and far too long.",
  "The acting was fine but the plot made no sense.",
  "Not bad at all!",
];

const percent = (p) => `${(100 * p).toFixed(1)}%`;

function item(term, value, id) {
  const wrap = document.createElement("div");
  const dt = document.createElement("dt");
  const dd = document.createElement("dd");
  dt.textContent = term;
  dd.textContent = value;
  dd.id = id;
  wrap.append(dt, dd);
  return wrap;
}

function draw(answer, latencyMs) {
  const prediction = answer.predictions[0];
  const summary = document.getElementById("single-summary");
  const list = document.createElement("dl");
  list.append(
    item("Label", `${prediction.label} (${percent(prediction.score)})`, "single-label"),
    item("Model", `${answer.model.name} ${answer.model.version}`, "single-model"),
    item("Cached", prediction.cached ? "yes, from the cache" : "no, a worker computed it",
      "single-cached"),
    item("Latency", `${Math.round(latencyMs)} ms round trip`, "single-latency"),
  );
  summary.replaceChildren(list);

  const bars = document.getElementById("bars");
  bars.replaceChildren(...Object.entries(prediction.probabilities).map(([label, p]) => {
    const row = document.createElement("li");
    row.dataset.label = label;
    row.dataset.probability = String(p);
    row.classList.toggle("winner", label === prediction.label);
    const name = document.createElement("span");
    name.className = "bar-label";
    name.textContent = label;
    const track = document.createElement("span");
    track.className = "bar-track";
    track.setAttribute("aria-hidden", "true"); // the number beside it says the same
    const fill = document.createElement("span");
    fill.className = "bar-fill";
    fill.style.width = percent(p);
    track.append(fill);
    const value = document.createElement("span");
    value.className = "bar-value";
    value.textContent = percent(p);
    row.append(name, track, value);
    return row;
  }));
}

export function setUpSingle() {
  const form = document.getElementById("single-form");
  const input = document.getElementById("single-text");
  const error = document.getElementById("single-error");
  const result = document.getElementById("single-result");
  let latest = 0; // only the newest request may draw: answers can arrive out of order

  async function classify() {
    const request = ++latest;
    error.hidden = true;
    result.setAttribute("aria-busy", "true");
    const started = performance.now();
    try {
      const answer = await predict([input.value]);
      if (request === latest) draw(answer, performance.now() - started);
    } catch (failure) {
      if (request !== latest) return;
      error.textContent = explain(failure, (d) => d.replace(/^texts\[0\]: /, "the text: "));
      error.hidden = false;
      document.getElementById("single-summary").replaceChildren();
      document.getElementById("bars").replaceChildren();
    } finally {
      if (request === latest) result.removeAttribute("aria-busy");
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    classify();
  });
  input.addEventListener("keydown", (event) => {
    // Enter or Ctrl/Cmd+Enter classifies; Shift+Enter is a new line; IME composition is not ours.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  const examples = document.getElementById("examples");
  for (const text of EXAMPLES) {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "example";
    button.textContent = text;
    button.addEventListener("click", () => {
      input.value = text;
      form.requestSubmit();
    });
    li.append(button);
    examples.append(li);
  }
}

// One text: classify on Enter with the picked model, draw a bar per label.
import { explain, predict } from "./api.js";
import { drawBars, percent } from "./bars.js";

const EXAMPLES = [
  "What a wonderful film, I loved every minute.",
  "Dull, slow and far too long.",
  "The acting was fine but the plot made no sense.",
  "Not bad at all!",
];

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
  // Each prediction names its model on a gateway of many models; the top level on any.
  const model = prediction.model ?? answer.model;
  const via = answer.alias ? ` (alias ${answer.alias})` : "";
  const summary = document.getElementById("single-summary");
  const list = document.createElement("dl");
  list.append(
    item("Label", `${prediction.label} (${percent(prediction.score)})`, "single-label"),
    item("Model", `${model.name} ${model.version}${via}`, "single-model"),
    item("Cached", prediction.cached ? "yes, from the cache" : "no, a worker computed it",
      "single-cached"),
    item("Latency", `${Math.round(latencyMs)} ms round trip`, "single-latency"),
  );
  summary.replaceChildren(list);
  drawBars(document.getElementById("bars"), prediction.probabilities, prediction.label);
}

/** `model()` says what to send as "model" (null: none, the gateway's default). */
export function setUpSingle(model) {
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
      const answer = await predict([input.value], model());
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

// Two models on the same text, side by side (POST /v1/compare), and whether they agree.
import { compare, explain } from "./api.js";
import { drawBars, percent } from "./bars.js";
import { fillPicker } from "./models.js";

const $ = (id) => document.getElementById(id);
const SIDES = [0, 1];

const sameLabels = (a, b) => a.labels.length === b.labels.length
  && a.labels.every((label) => b.labels.includes(label));

/** The second model to offer beside `first`: a model with its labels if any (another
 * version), else the next choice. */
function partner(catalog, first) {
  const model = catalog.models.find((m) => m.name === first);
  const others = catalog.models.filter((m) => m.name !== first);
  const twin = model && others.find((m) => sameLabels(m, model));
  return (twin ?? others[0])?.name ?? catalog.aliases.find((a) => a.name !== first)?.name;
}

function agreement(answer) {
  const [result] = answer.results;
  const [a, b] = result.answers;
  if (result.agree === null) return "Not comparable: the two models have different labels.";
  if (result.agree) return `Agree: both say ${a.label}.`;
  return `Disagree: ${a.model.name} says ${a.label}, ${b.model.name} says ${b.label}.`;
}

function draw(answer) {
  const [result] = answer.results;
  const line = $("compare-agreement");
  line.textContent = agreement(answer);
  line.dataset.agree = String(result.agree);
  for (const side of SIDES) {
    const one = result.answers[side];
    $(`compare-name-${side}`).textContent = `${one.model.name} ${one.model.version}`;
    $(`compare-label-${side}`).textContent = `${one.label} (${percent(one.score)})`
      + (one.cached ? " · cached" : "");
    drawBars($(`compare-bars-${side}`), one.probabilities, one.label);
  }
  $("compare-sides").hidden = false;
}

function clear() {
  $("compare-agreement").textContent = "";
  delete $("compare-agreement").dataset.agree;
  $("compare-sides").hidden = true;
}

/** Show the compare view when there are two things to compare (models or aliases). */
export function setUpCompare(catalog) {
  const pickers = SIDES.map((side) => $(`compare-model-${side}`));
  fillPicker(pickers[0], catalog, catalog.default);
  fillPicker(pickers[1], catalog, partner(catalog, catalog.default));
  $("compare-section").hidden = false;

  const form = $("compare-form");
  const input = $("compare-text");
  const error = $("compare-error");
  let latest = 0; // only the newest request may draw

  async function run() {
    const request = ++latest;
    error.hidden = true;
    $("compare-result").setAttribute("aria-busy", "true");
    try {
      const answer = await compare(input.value, pickers.map((picker) => picker.value));
      if (request === latest) draw(answer);
    } catch (failure) {
      if (request !== latest) return;
      error.textContent = explain(failure, (d) => d.replace(/^texts\[0\]: /, "the text: "));
      error.hidden = false;
      clear();
    } finally {
      if (request === latest) $("compare-result").removeAttribute("aria-busy");
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run();
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
}

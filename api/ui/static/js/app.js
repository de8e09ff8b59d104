// Entry point: read the page's settings and models from the API, then wire up the forms.
import { setUpAnalytics } from "./analytics.js";
import { apiKey, explain, getJson, setApiKey } from "./api.js";
import { setUpBatch } from "./batch.js";
import { setUpCompare } from "./compare.js";
import { choices, describe, fillPicker, loadCatalog, modelParam } from "./models.js";
import { setUpSingle } from "./single.js";

// The API's defaults, used only if /v1/ui-config cannot be read.
const FALLBACK = { docs_url: "/docs", flower_url: null, grafana_url: null, max_texts_per_request: 64 };

function link(id, url) {
  const a = document.getElementById(id);
  // Settings only accept http(s); checked again because a link is code in this origin.
  if (typeof url === "string" && /^https?:\/\//.test(url)) {
    a.href = url;
    a.hidden = false;
  }
}

const plural = (n, word, many = `${word}s`) => `${n} ${n === 1 ? word : many}`;

function servedLine(catalog) {
  if (catalog.models.length === 1) {
    const [model] = catalog.models;
    const labels = model.labels.length ? model.labels.join(", ") : "labels unknown yet";
    return `Serving ${model.name} ${model.version ?? ""} (${labels}) · `
      + `${plural(model.live_workers, "live worker")}`;
  }
  const workers = catalog.models.reduce((sum, m) => sum + m.live_workers, 0);
  return `Serving ${plural(catalog.models.length, "model")}`
    + (catalog.aliases.length ? ` and ${plural(catalog.aliases.length, "alias", "aliases")}` : "")
    + ` · ${plural(workers, "live worker")}`;
}

function setUpKey() {
  const form = document.getElementById("key-form");
  const input = document.getElementById("api-key");
  const state = document.getElementById("key-state");
  const show = () => { state.textContent = apiKey() ? "a key is set for this tab" : "no key set"; };
  form.addEventListener("submit", (event) => {
    event.preventDefault(); // never a navigation: the key must not reach a URL
    setApiKey(input.value);
    input.value = "";
    show();
    location.reload(); // the models and settings are read again, with the key
  });
  document.getElementById("key-forget").addEventListener("click", () => {
    setApiKey("");
    input.value = "";
    show();
  });
  show();
}

async function main() {
  setUpKey();
  const served = document.getElementById("served");
  let config = FALLBACK;
  try {
    config = await getJson("/v1/ui-config");
  } catch (error) {
    served.textContent = `Settings unavailable, using defaults. ${explain(error)}`;
  }
  link("flower-link", config.flower_url);
  link("grafana-link", config.grafana_url);
  const picker = document.getElementById("model-picker");
  let catalog = null;
  const model = () => modelParam(catalog, picker);
  setUpSingle(model);
  setUpBatch(model);
  setUpAnalytics();

  try {
    catalog = await loadCatalog();
  } catch (error) {
    // Without the list the page still classifies with the gateway's own model.
    served.textContent = explain(error);
  }
  if (catalog !== null) {
    served.textContent = servedLine(catalog);
    fillPicker(picker, catalog, catalog.default);
    const about = document.getElementById("model-about");
    const tell = () => { about.textContent = describe(catalog, picker.value); };
    picker.addEventListener("change", tell);
    tell();
    // One model and no alias: nothing to choose, the page looks as it always did.
    if (choices(catalog) >= 2) {
      document.getElementById("model-bar").hidden = false;
      setUpCompare(catalog);
    }
  }
  document.body.dataset.ready = "true"; // handlers are attached and the pickers filled
}

main();

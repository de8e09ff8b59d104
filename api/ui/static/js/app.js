// Entry point: read the page's settings from the API, then wire up both forms.
import { explain, getJson } from "./api.js";
import { setUpBatch } from "./batch.js";
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

async function main() {
  const served = document.getElementById("served");
  let config = FALLBACK;
  try {
    config = await getJson("/v1/ui-config");
  } catch (error) {
    served.textContent = `Settings unavailable, using defaults. ${explain(error)}`;
  }
  link("flower-link", config.flower_url);
  link("grafana-link", config.grafana_url);
  setUpSingle();
  setUpBatch();
  document.body.dataset.ready = "true"; // handlers are attached: the page is usable

  try {
    const { models } = await getJson("/v1/models");
    const [model] = models;
    const labels = model.labels.length ? model.labels.join(", ") : "labels unknown yet";
    served.textContent = `Serving ${model.name} ${model.version ?? ""} (${labels}) · `
      + `${model.live_workers} live worker${model.live_workers === 1 ? "" : "s"}`;
  } catch (error) {
    served.textContent = explain(error);
  }
}

main();

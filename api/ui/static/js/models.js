// The models and aliases GET /v1/models lists, and the pickers that choose among them.
//
// A gateway of one model answers {models: [one]} without `default` or `aliases`, and
// refuses a "model" field: the page then never sends one (catalog.named is false).
import { getJson } from "./api.js";

const share = (part, whole) => `${Math.round((100 * part) / (whole || 1))}%`;

/** An alias's traffic split, e.g. "sentiment-minilm 90%, sentiment-minilm-v2 10%". */
export function splitOf(alias) {
  const total = alias.targets.reduce((sum, t) => sum + t.weight, 0);
  return alias.targets.map((t) => `${t.model} ${share(t.weight, total)}`).join(", ");
}

/** GET /v1/models as {named, default, models, aliases}; null when it lists none. */
export async function loadCatalog() {
  const body = await getJson("/v1/models");
  const models = Array.isArray(body?.models) ? body.models : [];
  if (models.length === 0) return null;
  const named = typeof body.default === "string";
  const listed = models.some((m) => m.name === body.default);
  return {
    named,
    default: listed ? body.default : models[0].name, // the first when none is named
    models,
    aliases: Array.isArray(body.aliases) ? body.aliases : [],
  };
}

/** How many things a picker offers: models and aliases. */
export const choices = (catalog) => (catalog ? catalog.models.length + catalog.aliases.length : 0);

function option(value, text, selected) {
  const element = document.createElement("option");
  element.value = value;
  element.textContent = text;
  element.selected = selected;
  return element;
}

/** Fill a <select> with every model, then every alias; `selected` is chosen. */
export function fillPicker(select, catalog, selected) {
  const models = document.createElement("optgroup");
  models.label = "Models";
  for (const model of catalog.models) {
    const notes = [`${model.labels.length} labels`];
    if (model.name === catalog.default) notes.unshift("default");
    if (model.live_workers === 0) notes.push("no live worker");
    models.append(option(model.name, `${model.name} (${notes.join(", ")})`, model.name === selected));
  }
  select.replaceChildren(models);
  if (catalog.aliases.length) {
    const aliases = document.createElement("optgroup");
    aliases.label = "Aliases";
    for (const alias of catalog.aliases) {
      aliases.append(option(alias.name, `${alias.name} → ${splitOf(alias)}`, alias.name === selected));
    }
    select.append(aliases);
  }
}

/** One line about a model or an alias: its labels, runtime and workers, or its split. */
export function describe(catalog, name) {
  const model = catalog.models.find((m) => m.name === name);
  if (model) {
    const workers = model.live_workers === 1 ? "1 live worker" : `${model.live_workers} live workers`;
    const parts = [`labels: ${model.labels.join(", ") || "none announced yet"}`];
    if (model.runtime) parts.push(`runtime ${model.runtime}`);
    parts.push(workers);
    return parts.join(" · ");
  }
  const alias = catalog.aliases.find((a) => a.name === name);
  if (!alias) return "";
  const shadow = alias.shadow ? ` · shadow: ${alias.shadow.model} ${share(alias.shadow.share, 1)}` : "";
  return `alias, sticky per text: ${splitOf(alias)}${shadow}`;
}

/** What to send as "model" for a picker's choice: null where the gateway takes none. */
export const modelParam = (catalog, select) => (catalog?.named && select.value ? select.value : null);

// Texts out of pasted lines, CSV or JSONL, and results back into CSV. No dependencies.

/** A file the page cannot read, with where in it. */
export class ParseError extends Error {}

/** Records of an RFC 4180 CSV (quoted fields may hold commas, quotes and newlines). */
export function parseCsv(source) {
  const text = source.replace(/^\uFEFF/, "");
  const records = [];
  let record = [];
  let field = "";
  let quoted = false;
  let line = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else { field += c; if (c === "\n") line++; }
    } else if (c === '"' && field === "") quoted = true;
    else if (c === ",") { record.push(field); field = ""; }
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      record.push(field);
      records.push(record);
      record = [];
      field = "";
      line++;
    } else field += c;
  }
  if (quoted) throw new ParseError(`CSV: a quoted field opened before line ${line} never closes`);
  if (field !== "" || record.length) { record.push(field); records.push(record); }
  return records;
}

/**
 * Texts of a CSV: the column named `text` (its first row is then a header), or
 * else the first column of every row (no header).
 */
function fromCsv(source) {
  const records = parseCsv(source);
  const column = records.length ? records[0].findIndex((h) => h.trim().toLowerCase() === "text") : -1;
  const start = column >= 0 ? 1 : 0;
  return records.slice(start).map((record, i) => ({
    where: `row ${start + i + 1}`,
    text: record[Math.max(column, 0)] ?? "",
  }));
}

/** Texts of JSON Lines: a string per line, or an object's `text` (else its first string). */
function fromJsonl(source) {
  const items = [];
  source.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === "") return;
    let value;
    try {
      value = JSON.parse(line);
    } catch (cause) {
      throw new ParseError(`JSONL line ${i + 1} is not JSON: ${cause.message}`);
    }
    const text = typeof value === "string" ? value
      : typeof value?.text === "string" ? value.text
      : Object.values(value ?? {}).find((v) => typeof v === "string");
    if (text === undefined) throw new ParseError(`JSONL line ${i + 1} has no text`);
    items.push({ where: `line ${i + 1}`, text });
  });
  return items;
}

/** One text per line. */
export function fromLines(source) {
  return source.split(/\r?\n/).map((text, i) => ({ where: `line ${i + 1}`, text }));
}

/** Texts of a file by its extension; each item says where it came from for error messages. */
export function textsOfFile(name, source) {
  const lower = name.toLowerCase();
  if (lower.endsWith(".csv")) return fromCsv(source);
  if (lower.endsWith(".jsonl") || lower.endsWith(".ndjson")) return fromJsonl(source);
  return fromLines(source);
}

function csvField(value) {
  let text = String(value);
  // A cell starting with = + - @ runs as a formula in spreadsheets: keep it text.
  if (typeof value === "string" && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** A CSV document (CRLF, quoted where needed) from a header and rows. */
export function toCsv(header, rows) {
  return [header, ...rows].map((row) => row.map(csvField).join(",")).join("\r\n") + "\r\n";
}

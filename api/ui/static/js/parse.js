// Texts out of pasted lines, CSV or JSONL, and results back into CSV. No dependencies.
//
// A .csv or .jsonl file goes to POST /v1/jobs as it is and the API's reader
// (api/jobs/input.py) decides what it holds; the page reads it by the same rules only
// to preview the count and to show each text beside its result. Those rules: a CSV
// has a header line (blank lines before it skipped) naming a `text` column, exactly;
// blank rows are skipped; a JSONL line holds a JSON string or an object with a string
// `text`; a line ends at \n only. Rows count from 1 after the header ("row 1").

/** A file the page cannot read, with where in it. */
export class ParseError extends Error {}

const COLUMN = "text"; // the API's default text_column, which the page always uses

/**
 * Records of an RFC 4180 CSV (quoted fields may hold commas, quotes and newlines), read
 * as Python's csv module reads it with strict=True; each record's `line` is the line
 * it ends on, as csv.reader's line_num counts.
 */
export function parseCsv(source) {
  const text = source.replace(/^\uFEFF/, "");
  const records = [];
  let record = [];
  let field = "";
  let quoted = false;
  let closed = false; // a quoted field just closed: only a comma or a line end may follow
  let line = 1;
  const end = () => {
    record.push(field);
    record.line = line;
    records.push(record);
    record = [];
    field = "";
    closed = false;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    const lineEnd = c === "\n" || c === "\r";
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') { quoted = false; closed = true; }
      else {
        field += c;
        if (c === "\n" || (c === "\r" && text[i + 1] !== "\n")) line++;
      }
    } else if (closed && c !== "," && !lineEnd) {
      throw new ParseError(`CSV line ${line}: ',' expected after '"'`);
    } else if (c === '"' && field === "") quoted = true;
    else if (c === ",") { record.push(field); field = ""; closed = false; }
    else if (lineEnd) {
      if (c === "\r" && text[i + 1] === "\n") i++;
      end();
      line++;
    } else field += c;
  }
  if (quoted) throw new ParseError(`CSV: a quoted field opened before line ${line} never closes`);
  if (field !== "" || record.length || closed) end();
  return records;
}

const blank = (record) => record.every((cell) => cell.trim() === "");

/** Texts of a CSV: the `text` column named in its header line, one per non-blank row. */
function fromCsv(source) {
  const records = parseCsv(source);
  const header = records.findIndex((record) => !blank(record));
  if (header < 0) throw new ParseError("the file is empty");
  const names = records[header].map((name) => name.trim());
  const at = names.indexOf(COLUMN);
  if (at < 0) {
    const shown = names.slice(0, 20).map((n) => `'${n}'`).join(", ");
    throw new ParseError(`no column '${COLUMN}' in the CSV header (columns: ${shown})`);
  }
  const items = [];
  for (const record of records.slice(header + 1)) {
    if (blank(record)) continue; // blank lines are not rows
    if (at >= record.length) {
      throw new ParseError(`line ${record.line}: no value in column '${COLUMN}'`);
    }
    items.push({ where: `row ${items.length + 1}`, text: record[at] });
  }
  return items;
}

/** Texts of JSON Lines: a JSON string per line, or an object's string `text`. */
function fromJsonl(source) {
  const items = [];
  source.replace(/^\uFEFF/, "").split("\n").forEach((raw, i) => {
    const line = raw.replace(/\r$/, "");
    if (line.trim() === "") return;
    let value;
    try {
      value = JSON.parse(line);
    } catch (cause) {
      throw new ParseError(`line ${i + 1}: not valid JSON (${cause.message})`);
    }
    if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      value = value[COLUMN];
      if (value === undefined || value === null) {
        throw new ParseError(`line ${i + 1}: no '${COLUMN}' field`);
      }
    }
    if (typeof value !== "string") throw new ParseError(`line ${i + 1}: '${COLUMN}' must be a string`);
    items.push({ where: `row ${items.length + 1}`, text: value });
  });
  if (items.length === 0) throw new ParseError("the file is empty");
  return items;
}

/** One text per line. */
export function fromLines(source) {
  return source.split(/\r?\n/).map((text, i) => ({ where: `line ${i + 1}`, text }));
}

/** Whether a file goes to the API as it is (CSV, JSONL) rather than as its lines. */
export function isJobFile(name) {
  return /\.(csv|jsonl|ndjson)$/i.test(name);
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

// A small CSV reader for training and replay data: a header row, then rows of the same width (RFC 4180 quoting).
// Our own because the Worker's dependencies stay lean and the inputs are plain numeric tables.

export interface CsvTable {
  header: string[];
  /** Data rows as strings, each as wide as the header. */
  rows: string[][];
}

export class CsvError extends Error {}

/**
 * Parses CSV text with a header row. Quoted cells may hold commas, newlines and doubled quotes ("").
 * Blank lines are skipped. Throws CsvError naming the line when a row is not as wide as the header.
 */
export function parseCsv(text: string, where = 'csv'): CsvTable {
  const records: { cells: string[]; line: number }[] = [];
  let cells: string[] = [];
  let cell = '';
  let quoted = false;
  let line = 1;
  let recordLine = 1;
  const endCell = () => {
    cells.push(cell);
    cell = '';
  };
  const endRecord = () => {
    endCell();
    // A blank line is one empty cell: skip it rather than reporting a ragged row.
    if (!(cells.length === 1 && cells[0].trim() === '')) records.push({ cells, line: recordLine });
    cells = [];
  };
  const input = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text; // a BOM from spreadsheet exports
  for (let i = 0; i < input.length; i++) {
    const ch = input[i];
    if (quoted) {
      if (ch === '"' && input[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else {
        if (ch === '\n') line++;
        cell += ch;
      }
    } else if (ch === '"' && cell === '') quoted = true;
    else if (ch === ',') endCell();
    else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && input[i + 1] === '\n') i++;
      endRecord();
      line++;
      recordLine = line;
    } else cell += ch;
  }
  if (quoted) throw new CsvError(`${where}: line ${recordLine}: unterminated quoted cell`);
  if (cell !== '' || cells.length > 0) endRecord();
  if (records.length === 0) throw new CsvError(`${where}: empty; expected a header row`);

  const header = records[0].cells.map((h) => h.trim());
  const seen = new Set<string>();
  for (const h of header) {
    if (h === '') throw new CsvError(`${where}: line 1: empty column name in the header`);
    if (seen.has(h)) throw new CsvError(`${where}: line 1: duplicate column "${h}"`);
    seen.add(h);
  }
  const rows = records.slice(1).map(({ cells, line }) => {
    if (cells.length !== header.length)
      throw new CsvError(`${where}: line ${line}: expected ${header.length} cells (as the header), got ${cells.length}`);
    return cells;
  });
  return { header, rows };
}

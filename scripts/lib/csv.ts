// CSV for training and replay data: a header row, then rows of the same width. d3-dsv parses (RFC 4180 quoting);
// this module adds what the scripts need on top: a BOM from spreadsheet exports dropped, blank lines skipped, and
// errors that name the file and line.
import { csvParseRows } from 'd3-dsv';

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
  const input = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  // Quotes come in pairs in valid CSV (a doubled quote is a pair too); d3-dsv would read an open one to the end.
  if ((input.match(/"/g)?.length ?? 0) % 2 === 1) throw new CsvError(`${where}: unterminated quoted cell (an odd number of ")`);
  const records: { cells: string[]; line: number }[] = [];
  let line = 1;
  for (const cells of csvParseRows(input)) {
    // A blank line is one empty cell: skip it rather than reporting a ragged row.
    if (!(cells.length === 1 && cells[0]!.trim() === '')) records.push({ cells, line });
    // The next record starts after this one's line break and any inside its quoted cells.
    line += 1 + cells.reduce((n, c) => n + (c.match(/\n/g)?.length ?? 0), 0);
  }
  if (records.length === 0) throw new CsvError(`${where}: empty; expected a header row`);

  const header = records[0]!.cells.map((h) => h.trim());
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

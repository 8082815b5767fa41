// The detector's state as it is stored between windows (D1's monitor_states.state): the MonitorState's JSON, gzipped,
// in base64. The one place the stored form is made and read, so bench:detect measures what the cron stores.
//
// Why gzip: a weekly model keeps 168 + 24 phase bins of two label-count vectors each. Its JSON, even with the counts
// rounded (baseline.ts seasonalCount) and every all-zero vector left out, takes five or six characters per count:
// 1.3 to 1.7 MB for 1000 labels after 8 weeks, most of D1's 2,000,000 bytes for a value. Gzipped, it is a third to
// half of its JSON, base64 included (bench:detect's table of many labels). A BLOB column would save base64's quarter
// too, but would need a migration; text holds the states stored before, as plain JSON, in the same column.
import type { MonitorState } from './baseline';

/** A MonitorState as stored: base64 of its gzipped JSON, or the plain JSON of a state stored before it was packed. */
export type PackedState = string;

/** The state as it is stored. Lossless: JSON keeps every double exactly, and unpackState gives back an equal state. */
export async function packState(state: MonitorState): Promise<PackedState> {
  const zipped = new Blob([JSON.stringify(state)]).stream().pipeThrough(new CompressionStream('gzip'));
  return toBase64(new Uint8Array(await new Response(zipped).arrayBuffer()));
}

/**
 * The state a stored value holds. States stored before they were packed are plain JSON (they begin with `{`, which
 * base64 never does) and load as they were: compatibleState and judgeWindow already take every older shape.
 */
export async function unpackState(stored: PackedState): Promise<MonitorState> {
  if (stored.startsWith('{')) return JSON.parse(stored) as MonitorState;
  const unzipped = new Blob([fromBase64(stored)]).stream().pipeThrough(new DecompressionStream('gzip'));
  return JSON.parse(await new Response(unzipped).text()) as MonitorState;
}

// btoa and atob take binary strings: built in slices, since a spread of a whole megabyte overflows the call stack.
const SLICE = 0x8000;
function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += SLICE) binary += String.fromCharCode(...bytes.subarray(i, i + SLICE));
  return btoa(binary);
}
function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

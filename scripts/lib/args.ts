// Command-line flags, parsed alike by every script with a CLI: flags only, no positionals, an unknown flag is an error,
// and -h/--help is always there.
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A command line that does not parse; the CLIs print it with their usage and exit with status 2. */
export class UsageError extends Error {}

const HELP = { help: { type: 'boolean', short: 'h' } } as const;

/** The values of `options` (plus `help`) in `argv`. Throws UsageError, with node's message, on a bad command line. */
export function parseFlags<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, strict: true, allowPositionals: false, options: { ...options, ...HELP } }).values;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

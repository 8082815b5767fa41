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

/**
 * A script's command line, for scripts whose whole CLI is `usage` plus flags: -h/--help prints `usage` and exits 0;
 * a bad command line (an unknown flag, a positional, a missing value) prints the error and `usage` to stderr and exits
 * 2, before the script does any work. `name` prefixes the error (`bench-serve: Unknown option '--bogus'`).
 */
export function cli<T extends NonNullable<ParseArgsConfig['options']>>(name: string, usage: string, argv: string[], options: T) {
  let values: ReturnType<typeof parseFlags<T>>;
  try {
    values = parseFlags(argv, options);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`${name}: ${e.message}\n\n${usage}\n`);
    process.exit(2);
  }
  if ((values as { help?: boolean }).help) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  return values;
}

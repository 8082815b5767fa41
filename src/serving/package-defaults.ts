// What the Worker reads from a model package's metadata at run time, apart from the validator in metadata.ts (which
// only the build and the scripts run): importing this module does not bundle the schemas.
import type { ModelMetadata } from './metadata';

/**
 * Window length of a model version in seconds: its own `monitor.window_seconds`, else the deployment default
 * (`WINDOW_SECONDS`). Pass undefined for a version that is not served (it gets the default).
 */
export const windowLengthOf = (metadata: Pick<ModelMetadata, 'monitor'> | undefined, defaults: { windowSeconds: number }): number =>
  metadata?.monitor?.window_seconds ?? defaults.windowSeconds;

/** The input's name in the metadata endpoints when the package declares none. */
export const DEFAULT_INPUT_NAME = 'features';

// The config a subcommand runs on: --config FILE or the embedded default.
// Kept apart from `run` so check-config and status load no daemon (and no addon).
import { defaultConfig, loadConfig, type Config } from '../daemon/config.js';
import { ConfigError } from '../util/errors.js';

/** Loads --config or the embedded default; prints a ConfigError and returns null. */
export function configFrom(file: string | undefined): Config | null {
  try {
    return file === undefined ? defaultConfig() : loadConfig(file);
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`clocktower: ${e.message}`);
      return null;
    }
    throw e;
  }
}

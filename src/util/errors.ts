// Errors with stable codes. A configuration error names the file, the line
// and the key, so a person can go straight to the mistake.

export class ClocktowerError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ClocktowerError';
  }
}

export class ConfigError extends ClocktowerError {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly key: string,
    problem: string,
  ) {
    super('ERR_CONFIG', `${file}:${line}: ${key ? `${key}: ` : ''}${problem}`);
    this.name = 'ConfigError';
  }
}

/** What to log for a caught error: its errno name (EADDRINUSE, EPERM...) when it has one, else its message. */
export function errorCode(e: unknown): string {
  return (e as { code?: string }).code ?? (e as Error).message;
}

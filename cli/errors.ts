/**
 * The CLI's two kinds of failure: a wrong command line (exit 2, with usage) and anything else the user
 * should read as one line (exit 1).
 */
export class CliError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CliError';
  }
}

export class UsageError extends CliError {
  constructor(
    message: string,
    /** the usage text to print after the message */
    readonly usage?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

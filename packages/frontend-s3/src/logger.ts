/** The log calls the driver makes; a pino logger fits. Messages never carry credentials. */
export interface S3DriverLogger {
  info(message: string): void;
  warn(message: string): void;
}

/** Writes one line per message to stderr, for an embedding that passes no logger. */
export const stderrLogger: S3DriverLogger = {
  info: (message) => process.stderr.write(`info: ${message}\n`),
  warn: (message) => process.stderr.write(`warn: ${message}\n`),
};

/** A small leveled logger to stderr; only the entry point decides the level. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(message: string, ...args: unknown[]): void;
  info(message: string, ...args: unknown[]): void;
  warn(message: string, ...args: unknown[]): void;
  error(message: string, ...args: unknown[]): void;
  child(name: string): Logger;
}

export function parseLevel(value: string | undefined): LogLevel {
  const level = (value ?? "info").toLowerCase().replace("warning", "warn").replace("critical", "error");
  return level in ORDER ? (level as LogLevel) : "info";
}

export function createLogger(level: LogLevel, name = "agentlist.worker_js"): Logger {
  const write = (at: LogLevel, message: string, args: unknown[]) => {
    if (ORDER[at] < ORDER[level]) return;
    const extra = args.map((arg) => (arg instanceof Error ? (arg.stack ?? arg.message) : String(arg)));
    const line = [`[worker-js] ${new Date().toISOString()} ${at.toUpperCase().padEnd(5)} ${name}: ${message}`, ...extra];
    process.stderr.write(`${line.join(" ")}\n`);
  };
  return {
    debug: (message, ...args) => write("debug", message, args),
    info: (message, ...args) => write("info", message, args),
    warn: (message, ...args) => write("warn", message, args),
    error: (message, ...args) => write("error", message, args),
    child: (child) => createLogger(level, `${name}.${child}`),
  };
}

/** For tests and library use: says nothing. */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
};

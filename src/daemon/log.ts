/** The daemon's log: one line per event, `TIME LEVEL message`, to every sink (stderr, the log file). */
export interface DaemonLog {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export const silentLog: DaemonLog = { info() {}, warn() {}, error() {} };

export interface LogSink {
  write(text: string): unknown;
}

export function createLog(sinks: readonly LogSink[], now: () => Date = () => new Date()): DaemonLog {
  const line = (level: string, message: string): void => {
    const text = `${now().toISOString()} ${level} ${message.replace(/\n+/g, " ")}\n`;
    for (const s of sinks) s.write(text);
  };
  return { info: (m) => line("info", m), warn: (m) => line("warn", m), error: (m) => line("error", m) };
}

/** Keeps the lines in memory; for tests. */
export function memoryLog(): DaemonLog & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (m) => void lines.push(`info ${m}`), warn: (m) => void lines.push(`warn ${m}`), error: (m) => void lines.push(`error ${m}`) };
}

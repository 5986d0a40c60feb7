/** Structured JSON logs, one line per event, with persistent keys such as the run id. */
export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  with(fields: Record<string, unknown>): Logger;
}

export function createLogger(task: string, persistent: Record<string, unknown> = {}): Logger {
  const emit = (level: string, msg: string, fields?: Record<string, unknown>) => {
    process.stdout.write(
      `${JSON.stringify({ level, time: new Date().toISOString(), task, msg, ...persistent, ...fields })}\n`,
    );
  };
  return {
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    with: (f) => createLogger(task, { ...persistent, ...f }),
  };
}

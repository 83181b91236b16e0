// Structured logs: one JSON object per line on stdout (journald and log shippers take it as is).
import type { LogFn } from '../outbox/outbox.js';

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
export type LogLevel = keyof typeof LEVELS;

export function jsonLogger(level: LogLevel, component: string, write: (line: string) => void = (l) => process.stdout.write(l)): LogFn {
  const threshold = LEVELS[level];
  return (lvl, message, fields) => {
    if (LEVELS[lvl] < threshold) return;
    write(`${JSON.stringify({ ts: new Date().toISOString(), level: lvl, component, msg: message, ...fields })}\n`);
  };
}

/** The same sink under another component name. */
export function childLogger(log: LogFn, component: string): LogFn {
  return (lvl, message, fields) => log(lvl, message, { ...fields, component });
}

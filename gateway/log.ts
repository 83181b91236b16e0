// The gateway's structured log sink (level, message, fields); same shape as the firmware's, mapped onto JSON lines by gateway/node.
export type LogFn = (level: 'debug' | 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;

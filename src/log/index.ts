/**
 * Structured logs (pino) for the long-running processes: peers, the router,
 * node agents. One JSON object a line on stderr, so stdout stays for what a
 * command prints. CAIRN_LOG sets the level (default info; `silent` for none).
 * Secrets never go in: callers log ids, sizes and error codes, not keys.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(name: string, env: NodeJS.ProcessEnv = process.env): Logger {
  return pino({ name, level: env.CAIRN_LOG || 'info', base: { pid: process.pid } }, pino.destination(2));
}

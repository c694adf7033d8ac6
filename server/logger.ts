import { pino, type Logger } from 'pino';

/** Process-wide structured logger; children carry context such as `sessionId`. */
export let logger: Logger = pino({ level: process.env.LOG_LEVEL ?? 'info', base: undefined });

/** Replace the level once config is known. */
export function setLogLevel(level: string): void {
  logger.level = level;
}

export type { Logger };

/** The process logger: pino JSON lines on stdout, or pino-pretty's readable lines when stdout is a terminal. */
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

/** A logger at `level`, pretty when a person is watching. */
export function createLogger(level: string): Logger {
  const options = { level, timestamp: pino.stdTimeFunctions.isoTime };
  if (process.stdout.isTTY) return pino(options, pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }));
  return pino(options);
}

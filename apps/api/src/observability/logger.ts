import type { LoggerService } from '@nestjs/common';
import pino from 'pino';

export type Logger = pino.Logger;

/** JSON logs on stdout, one object a line. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'gooseherd-api' } });
}

/** Routes Nest's own log lines (bootstrap, route mapping, errors) through pino. */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, context?: string): void {
    this.logger.debug({ context }, String(message));
  }
  error(message: unknown, trace?: string, context?: string): void {
    this.logger.error({ context, trace }, String(message));
  }
  warn(message: unknown, context?: string): void {
    this.logger.warn({ context }, String(message));
  }
  debug(message: unknown, context?: string): void {
    this.logger.debug({ context }, String(message));
  }
  verbose(message: unknown, context?: string): void {
    this.logger.trace({ context }, String(message));
  }
}

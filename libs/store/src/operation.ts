import { randomBytes } from 'node:crypto';

/** A fresh id per call: a script run twice under it (ioredis resending after a lost reply) acts once. */
export function operationId(): string {
  return randomBytes(9).toString('base64url');
}

/** The caller's clock for a script: ISO time (event `at`, records) and the same instant in epoch ms. */
export function clock(): [iso: string, ms: number] {
  const now = new Date();
  return [now.toISOString(), now.getTime()];
}

/** Optimistic reads of a mailbox (delete, begin) retry this often at most before giving up. */
export const MAX_MAILBOX_RETRIES = 50;

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from '../auth/api-key-authenticator.js';

/** The parts of Express's request this API reads (typed here so the app needs no @types/express). */
export interface ApiRequest extends IncomingMessage {
  body?: unknown;
  query: Record<string, unknown>;
  params: Record<string, string>;
  route?: { path: string };
  originalUrl: string;
  /** Set by the API-key middleware on every /v1 request it lets through. */
  principal?: Principal;
}

export type ApiResponse = ServerResponse;
export type Next = (error?: unknown) => void;

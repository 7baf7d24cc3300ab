import { Problems } from '../http/problem.js';

const ID = /^[\w-]{1,64}$/;

/** An id that cannot exist reads as absent (404) without asking Redis. */
export function requireId(id: string, what: 'agent' | 'task'): string {
  if (!ID.test(id)) throw Problems.notFound(`${what} not found`);
  return id;
}

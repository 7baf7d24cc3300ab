import { ID_PATTERN } from '@gooseherd/contracts';
import { Problems } from '../http/problem.js';

/** An id that cannot exist reads as absent (404) without asking Redis. */
export function requireId(id: string, what: 'agent' | 'task'): string {
  if (!ID_PATTERN.test(id)) throw Problems.notFound(`${what} not found`);
  return id;
}

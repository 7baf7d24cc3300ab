import type { ProblemDetails } from '@gooseherd/contracts';
import type { RawResponse } from '@gooseherd/test-kit';

const PROBLEM_JSON = /^application\/problem\+json/;

/**
 * Whether `field` (a path joined with dots, as the API names fields: `sampling.logitBias.12`, `stop.2`) names
 * a path in `value`. Keys may contain dots themselves, so every split of the path is tried.
 */
export function pathExists(value: unknown, field: string): boolean {
  if (typeof value !== 'object' || value === null) return false;
  for (const key of Object.keys(value)) {
    const child = (value as Record<string, unknown>)[key];
    if (field === key) return true;
    if (field.startsWith(`${key}.`) && pathExists(child, field.slice(key.length + 1))) return true;
  }
  return false;
}

export interface SentInput {
  /** The parsed body (or query as an object) that was sent; undefined when none or unparsable. */
  value: unknown;
  /** What the API calls the whole input: `body` or `query`. */
  root: 'body' | 'query';
  /** Fields the schema requires, which an error may name although the input lacks them. */
  required?: readonly string[];
  /** Other names the input's keys may have on the server (e.g. query keys before percent-decoding). */
  aliases?: readonly string[];
}

/**
 * What is wrong with an answer, by the API's error contract: never a 5xx; every 4xx is problem+json whose
 * `status` equals the HTTP status; a validation error (400 validation / malformed body, 422) lists `errors`,
 * each naming a field that is the whole input, a path in it, or a required field it lacks. Empty when fine.
 */
export function contractViolations(res: RawResponse, sent: SentInput): string[] {
  const problems: string[] = [];
  if (res.status >= 500) problems.push(`server error ${res.status}`);
  if (res.status < 400) return problems;
  if (!PROBLEM_JSON.test(res.contentType)) {
    problems.push(`a ${res.status} with Content-Type "${res.contentType}", not application/problem+json`);
    return problems;
  }
  const problem = res.json as ProblemDetails | undefined;
  if (!problem || typeof problem !== 'object') return [...problems, 'a problem+json answer that is not JSON'];
  if (problem.status !== res.status) problems.push(`problem.status ${problem.status} ≠ HTTP ${res.status}`);
  if (typeof problem.type !== 'string' || typeof problem.title !== 'string') {
    problems.push('problem without type/title');
  }
  const isFieldError =
    res.status === 422 ||
    /:(validation|malformed-body)$/.test(typeof problem.type === 'string' ? problem.type : '');
  if (!isFieldError) return problems;
  if (!Array.isArray(problem.errors) || problem.errors.length === 0) {
    return [...problems, `a ${problem.type} problem without an errors array`];
  }
  for (const error of problem.errors) {
    if (typeof error?.field !== 'string' || typeof error.message !== 'string') {
      problems.push(`malformed entry in errors: ${JSON.stringify(error)}`);
      continue;
    }
    const named =
      error.field === sent.root ||
      pathExists(sent.value, error.field) ||
      (sent.required ?? []).includes(error.field) ||
      (sent.aliases ?? []).includes(error.field);
    if (!named) problems.push(`errors names "${error.field}", which is not in what was sent`);
  }
  return problems;
}

/** The fields a problem's `errors` array names. */
export function errorFields(res: RawResponse): string[] {
  const problem = res.json as ProblemDetails | undefined;
  return (problem?.errors ?? []).map((e) => e.field);
}

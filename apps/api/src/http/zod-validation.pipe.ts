import type { PipeTransform } from '@nestjs/common';
import type { z } from 'zod';
import { Problems, type FieldError } from './problem.js';

/** Zod issues as field errors named by path (`sampling.topP`, `stop.2`); an unknown key names itself. */
export function fieldErrors(error: z.ZodError, root: string): FieldError[] {
  return error.issues.flatMap((issue) => {
    const base = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ field: [...base, key].join('.'), message: 'unknown field' }));
    }
    return [{ field: base.length > 0 ? base.join('.') : root, message: issue.message }];
  });
}

/** Validates a body or query against a contracts schema; failures are 400 problems naming each field. */
export class ZodValidationPipe<S extends z.ZodType> implements PipeTransform<unknown, z.output<S>> {
  constructor(
    private readonly schema: S,
    private readonly root: 'body' | 'query' = 'body',
  ) {}

  transform(value: unknown): z.output<S> {
    // An absent body is an empty object: POST /v1/agents needs no fields.
    const result = this.schema.safeParse(value === undefined ? {} : value);
    if (result.success) return result.data;
    throw Problems.validation(fieldErrors(result.error, this.root));
  }
}

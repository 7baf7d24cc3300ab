/**
 * What a turn is constrained to: the tools it may call, how (toolChoice, parallel calls) and the shape of
 * its final message. The field names follow issue 11's REST shapes so the worker can pass a task through.
 *
 * The text written (Hermes style, shared with the tool-call dialect in libs/agent-runtime):
 *   [free text]<tool_call>{"name":"NAME","arguments":{…}}</tool_call>[\n<tool_call>…</tool_call>]…\n\n
 * The turn ends with `\n\n`, the chat format's turn separator.
 */
import { UnsupportedSchemaError, checkSchema } from './schema-support.js';

export const TOOL_CALL_OPEN = '<tool_call>';
export const TOOL_CALL_CLOSE = '</tool_call>';
/** Between two calls of one turn. */
export const TOOL_CALL_SEPARATOR = '\n';
/** Ends the assistant's turn (chat-format.ts TURN_SEPARATOR). */
export const TURN_END = '\n\n';

export interface ToolSpec {
  readonly name: string;
  /** JSON Schema of the arguments object. */
  readonly parameters: unknown;
}

export type ToolChoice = 'auto' | 'none' | 'required' | { readonly type: 'function'; readonly name: string };

export type ResponseFormat =
  | { readonly type: 'text' }
  | { readonly type: 'json_schema'; readonly name?: string; readonly schema: unknown };

export interface ConstraintSpec {
  readonly tools?: readonly ToolSpec[];
  /** Default `auto`. */
  readonly toolChoice?: ToolChoice;
  /** Default true: after a call, another may follow (separated by `\n`) before the turn ends. */
  readonly parallelToolCalls?: boolean;
  /** Default text. */
  readonly responseFormat?: ResponseFormat;
}

export const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
export const MAX_TOOLS = 64;

/** A spec was refused. `path` is a JSON Pointer into the spec (e.g. `/tools/2/parameters/properties/x/format`). */
export class ConstraintSpecError extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path}: ${reason}`);
    this.name = 'ConstraintSpecError';
  }
}

/** The spec after checking: schemas rewritten for the engine, choice resolved. */
export interface ResolvedSpec {
  /** Tools that may be called in this turn (after toolChoice), with checked schemas. */
  readonly callable: readonly { readonly name: string; readonly schema: Record<string, unknown> }[];
  /** `lazy`: free text until `<tool_call>`; `forced`: the turn starts with a call; `never`: no calls. */
  readonly calls: 'lazy' | 'forced' | 'never';
  readonly parallel: boolean;
  /** The final message's schema, when the message is constrained to JSON. */
  readonly messageSchema?: Record<string, unknown>;
}

function wrap<T>(path: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof UnsupportedSchemaError) throw new ConstraintSpecError(`${path}${e.path}`, e.reason);
    throw e;
  }
}

/** Checks a spec (tool names, schemas, choice); throws ConstraintSpecError naming the field. */
export function resolveSpec(spec: ConstraintSpec): ResolvedSpec {
  const tools = spec.tools ?? [];
  if (tools.length > MAX_TOOLS) throw new ConstraintSpecError('/tools', `at most ${MAX_TOOLS} tools`);
  const seen = new Set<string>();
  const checked = tools.map((t, i) => {
    if (typeof t.name !== 'string' || !TOOL_NAME.test(t.name))
      throw new ConstraintSpecError(`/tools/${i}/name`, `a tool name must match ${TOOL_NAME.source}`);
    if (seen.has(t.name)) throw new ConstraintSpecError(`/tools/${i}/name`, `tool ${t.name} is listed twice`);
    seen.add(t.name);
    const schema = wrap(`/tools/${i}/parameters`, () =>
      checkSchema(t.parameters ?? { type: 'object', properties: {} }),
    );
    if (schema['type'] !== 'object')
      throw new ConstraintSpecError(
        `/tools/${i}/parameters/type`,
        'a tool takes an object of arguments (type: object)',
      );
    return { name: t.name, schema };
  });

  const format = spec.responseFormat ?? { type: 'text' };
  let messageSchema: Record<string, unknown> | undefined;
  if (format.type === 'json_schema') {
    messageSchema = wrap('/responseFormat/schema', () => checkSchema(format.schema));
  } else if (format.type !== 'text') {
    throw new ConstraintSpecError('/responseFormat/type', 'must be text or json_schema');
  }

  const choice = spec.toolChoice ?? 'auto';
  const parallel = spec.parallelToolCalls ?? true;
  if (choice === 'none' || (choice === 'auto' && checked.length === 0))
    return { callable: [], calls: 'never', parallel, messageSchema };
  if (choice === 'auto') return { callable: checked, calls: 'lazy', parallel, messageSchema };
  if (choice === 'required') {
    if (checked.length === 0)
      throw new ConstraintSpecError('/toolChoice', 'required needs at least one tool');
    return { callable: checked, calls: 'forced', parallel };
  }
  if (typeof choice === 'object' && choice.type === 'function') {
    const tool = checked.find((t) => t.name === choice.name);
    if (!tool) throw new ConstraintSpecError('/toolChoice/name', `no tool named ${String(choice.name)}`);
    return { callable: [tool], calls: 'forced', parallel };
  }
  throw new ConstraintSpecError(
    '/toolChoice',
    'must be auto, none, required or {"type":"function","name":…}',
  );
}

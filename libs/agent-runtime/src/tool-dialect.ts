/**
 * The tool-call dialect "hermes-g1@1": how function tools, tool calls and their results are written into the
 * RWKV G1 chat format (chat-format.ts). Pure text in, text out: the platform renders and parses with it, the
 * grammar constrains decoding to it, and the training data generator imports it, so the default model is
 * trained on exactly the bytes the platform feeds it.
 *
 * ```
 * System: <system text>
 * <tools>
 * {"name":"get_weather","description":"…","parameters":{…}}
 * </tools>
 *
 * User: <input>
 *
 * Assistant: <optional free text>
 * <tool_call>{"name":"get_weather","arguments":{"city":"Oslo"}}</tool_call>
 *
 * Observation: <output of the first call>
 *
 * Assistant: <the model goes on>
 * ```
 *
 * Every turn ends with the turn separator (a blank line) and no text inside a turn contains one: JSON is
 * written compact (JSON.stringify escapes newlines) and free text has its blank lines collapsed.
 */
import { collapseBlankLines, TURN_SEPARATOR } from './chat-format.js';

/** Versioned name of this dialect; a model trained on it records this name. */
export const TOOL_DIALECT = 'hermes-g1@1';

export const TOOLS_OPEN = '<tools>';
export const TOOLS_CLOSE = '</tools>';
export const TOOL_CALL_OPEN = '<tool_call>';
export const TOOL_CALL_CLOSE = '</tool_call>';
/** Starts a turn that carries one tool call's result. */
export const OBSERVATION_PREFIX = 'Observation:';
/** Starts the model's turn; the model writes its own leading space. */
export const ASSISTANT_PREFIX = 'Assistant:';

/** Tool names as the tools issue and the OpenAI function-tool shape allow them. */
export const TOOL_NAME_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** One function tool as the model sees it (platform-only fields such as `strict` are not rendered). */
export interface ToolDefinition {
  readonly name: string;
  readonly description: string;
  /** A JSON Schema of the arguments object. */
  readonly parameters: JsonObject;
}

export interface ToolCall {
  readonly name: string;
  readonly arguments: JsonObject;
}

/** A `<tool_call>` block the model wrote that is not a valid call, with why. */
export interface InvalidToolCall {
  readonly raw: string;
  readonly reason: string;
}

export interface ParsedAssistantTurn {
  /** Free text before the first call (trimmed); the whole turn when it holds no call. */
  readonly text: string;
  readonly calls: ToolCall[];
  /** Malformed blocks and stray text after the calls; empty for a well-formed turn. */
  readonly invalid: InvalidToolCall[];
}

export class ToolDialectError extends Error {
  override readonly name = 'ToolDialectError';
}

function checkToolName(name: unknown, where: string): string {
  if (typeof name !== 'string' || !TOOL_NAME_PATTERN.test(name)) {
    throw new ToolDialectError(`${where}: tool name ${JSON.stringify(name)} must match ${TOOL_NAME_PATTERN}`);
  }
  return name;
}

function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** One tool as its compact JSON line, keys in a fixed order (name, description, parameters). */
export function renderToolLine(tool: ToolDefinition): string {
  checkToolName(tool.name, 'tools');
  return JSON.stringify({ name: tool.name, description: tool.description, parameters: tool.parameters });
}

/**
 * The system turn: `System: <text>`, then the tool list when the agent has tools, then the turn separator.
 * With no tools it is exactly chat-format's systemTurn.
 */
export function renderSystemTurn(system: string, tools: readonly ToolDefinition[] = []): string {
  const names = new Set<string>();
  for (const t of tools) {
    if (names.has(t.name)) throw new ToolDialectError(`tools: the name ${t.name} is listed twice`);
    names.add(t.name);
  }
  const list = tools.length ? `\n${TOOLS_OPEN}\n${tools.map(renderToolLine).join('\n')}\n${TOOLS_CLOSE}` : '';
  return `System: ${collapseBlankLines(system)}${list}${TURN_SEPARATOR}`;
}

/** One call: `<tool_call>{"name":…,"arguments":{…}}</tool_call>`. */
export function renderToolCall(call: ToolCall): string {
  checkToolName(call.name, 'tool call');
  if (!isJsonObject(call.arguments))
    throw new ToolDialectError(`tool call ${call.name}: arguments must be an object`);
  return `${TOOL_CALL_OPEN}${JSON.stringify({ name: call.name, arguments: call.arguments })}${TOOL_CALL_CLOSE}`;
}

/**
 * What the model writes after `Assistant:` up to and including the turn separator: a space, the free text (if
 * any), then each call on its own line. Free text alone is an ordinary answer.
 */
export function renderAssistantBody(text: string, calls: readonly ToolCall[] = []): string {
  const lines: string[] = [];
  const clean = collapseBlankLines(text);
  if (clean) lines.push(clean);
  for (const c of calls) lines.push(renderToolCall(c));
  return ` ${lines.join('\n')}${TURN_SEPARATOR}`;
}

/** A whole assistant turn, prefix included (for transcripts and training data). */
export function renderAssistantTurn(text: string, calls: readonly ToolCall[] = []): string {
  return `${ASSISTANT_PREFIX}${renderAssistantBody(text, calls)}`;
}

/** A result as the model sees it: strings with blank lines collapsed, anything else as compact JSON. */
export function renderObservationText(output: JsonValue): string {
  return typeof output === 'string' ? collapseBlankLines(output) : JSON.stringify(output);
}

/** One result turn: `Observation: <output>` and the separator. */
export function renderObservationTurn(output: JsonValue): string {
  return `${OBSERVATION_PREFIX} ${renderObservationText(output)}${TURN_SEPARATOR}`;
}

/**
 * The results of a turn's calls, in call order, each its own turn, then `Assistant:` so the model goes on.
 */
export function renderObservations(outputs: readonly JsonValue[]): string {
  return `${outputs.map(renderObservationTurn).join('')}${ASSISTANT_PREFIX}`;
}

/**
 * Parses what the model wrote after `Assistant:` (with or without the closing separator). Never throws:
 * malformed calls come back in `invalid` so the caller can report them to the model or the client.
 */
export function parseAssistantTurn(body: string): ParsedAssistantTurn {
  const content = body.endsWith(TURN_SEPARATOR) ? body.slice(0, -TURN_SEPARATOR.length) : body;
  const first = content.indexOf(TOOL_CALL_OPEN);
  if (first < 0) return { text: content.trim(), calls: [], invalid: [] };
  const calls: ToolCall[] = [];
  const invalid: InvalidToolCall[] = [];
  let pos = first;
  while (pos < content.length) {
    const open = content.indexOf(TOOL_CALL_OPEN, pos);
    const between = content.slice(pos, open < 0 ? content.length : open);
    if (between.trim()) invalid.push({ raw: between, reason: 'text after a tool call' });
    if (open < 0) break;
    const close = content.indexOf(TOOL_CALL_CLOSE, open);
    if (close < 0) {
      invalid.push({ raw: content.slice(open), reason: `${TOOL_CALL_OPEN} is not closed` });
      break;
    }
    const raw = content.slice(open, close + TOOL_CALL_CLOSE.length);
    const parsed = parseCallJson(content.slice(open + TOOL_CALL_OPEN.length, close));
    if ('reason' in parsed) invalid.push({ raw, reason: parsed.reason });
    else calls.push(parsed);
    pos = close + TOOL_CALL_CLOSE.length;
  }
  return { text: content.slice(0, first).trim(), calls, invalid };
}

function parseCallJson(json: string): ToolCall | { reason: string } {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return { reason: 'the call is not valid JSON' };
  }
  if (!isJsonObject(value)) return { reason: 'the call is not a JSON object' };
  if (typeof value.name !== 'string' || !TOOL_NAME_PATTERN.test(value.name)) {
    return { reason: 'the call has no valid "name"' };
  }
  const args = value.arguments ?? {};
  if (!isJsonObject(args)) return { reason: `the arguments of ${value.name} are not a JSON object` };
  const extra = Object.keys(value).filter((k) => k !== 'name' && k !== 'arguments');
  if (extra.length) return { reason: `the call has unknown fields: ${extra.join(', ')}` };
  return { name: value.name, arguments: args };
}

/** Reads a system turn back into its text and tools (the inverse of renderSystemTurn). */
export function parseSystemTurn(turn: string): { system: string; tools: ToolDefinition[] } {
  if (!turn.startsWith('System: ')) throw new ToolDialectError('a system turn starts with "System: "');
  const content = turn.endsWith(TURN_SEPARATOR) ? turn.slice(8, -TURN_SEPARATOR.length) : turn.slice(8);
  const openAt = content.indexOf(`\n${TOOLS_OPEN}\n`);
  if (openAt < 0) return { system: content, tools: [] };
  if (!content.endsWith(`\n${TOOLS_CLOSE}`)) throw new ToolDialectError(`${TOOLS_OPEN} is not closed`);
  const lines = content.slice(openAt + TOOLS_OPEN.length + 2, -TOOLS_CLOSE.length - 1).split('\n');
  const tools = lines.map((line, i) => {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new ToolDialectError(`tool line ${i + 1} is not valid JSON`);
    }
    if (!isJsonObject(value) || typeof value.description !== 'string' || !isJsonObject(value.parameters)) {
      throw new ToolDialectError(`tool line ${i + 1} needs name, description and parameters`);
    }
    return {
      name: checkToolName(value.name, `tool line ${i + 1}`),
      description: value.description,
      parameters: value.parameters,
    };
  });
  return { system: content.slice(0, openAt), tools };
}

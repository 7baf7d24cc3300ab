/**
 * Builds the EBNF grammar of a constrained turn: each schema is turned into rules by the engine, the rules
 * get a prefix per schema so several can live in one grammar, and glue rules write the tool-call dialect.
 *
 * Properties are generated in the schema's order with compact separators (`{"a":1,"b":[2]}`), no free
 * whitespace and no keys beyond `properties`: one way to write each value keeps the masks small.
 */
import {
  TOOL_CALL_CLOSE,
  TOOL_CALL_OPEN,
  TOOL_CALL_SEPARATOR,
  TURN_END,
  type ResolvedSpec,
} from './constraint-spec.js';

/** Converts one checked schema to EBNF rules whose root is `root`. */
export type SchemaToEbnf = (schema: Record<string, unknown>) => Promise<string>;

/** An EBNF string literal. */
export function ebnfLiteral(text: string): string {
  let out = '"';
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (code >= 0x20 && code < 0x7f) out += ch;
    else if (code <= 0xffff) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += `\\U${code.toString(16).padStart(8, '0')}`;
  }
  return `${out}"`;
}

/**
 * The engine's rule for a string character with a length bound is `[^\"\\\r\n]`, which lets a raw tab or
 * other control character into the JSON string (invalid JSON). This class excludes every control character.
 */
const BOUNDED_STRING_CHAR = '[^\\"\\\\\\r\\n]';
const SAFE_STRING_CHAR = '[^\\0-\\x1f\\"\\\\]';

/** Prefixes every rule name in `ebnf` (names outside string literals and character classes). */
export function prefixRules(ebnf: string, prefix: string): string {
  let out = '';
  for (let i = 0; i < ebnf.length;) {
    const c = ebnf[i];
    if (c === '"' || c === '[') {
      const close = c === '"' ? '"' : ']';
      let j = i + 1;
      while (j < ebnf.length && ebnf[j] !== close) j += ebnf[j] === '\\' ? 2 : 1;
      const literal = ebnf.slice(i, j + 1);
      out += literal === BOUNDED_STRING_CHAR ? SAFE_STRING_CHAR : literal;
      i = j + 1;
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i + 1;
      while (j < ebnf.length && /[A-Za-z0-9_]/.test(ebnf[j])) j++;
      out += prefix + ebnf.slice(i, j);
      i = j;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** What a matcher runs: an optional free-text phase, then (if any) the grammar. */
export interface TurnGrammar {
  /** `calls`: free text until `<tool_call>` (then `grammar`); `no-calls`: free text only; `none`: grammar from the start. */
  readonly freeText: 'calls' | 'no-calls' | 'none';
  /** EBNF with root `root`; absent when the turn is free text only. */
  readonly grammar?: string;
}

export async function buildTurnGrammar(spec: ResolvedSpec, toEbnf: SchemaToEbnf): Promise<TurnGrammar> {
  const rules: string[] = [];
  const open = ebnfLiteral(TOOL_CALL_OPEN);
  const end = ebnfLiteral(TURN_END);
  // `Assistant:` is fed without a trailing space, so a constrained turn may start with one.
  const lead = '(" ")?';
  const addSchema = async (schema: Record<string, unknown>, prefix: string): Promise<string> => {
    rules.push(prefixRules(await toEbnf(schema), prefix));
    return `${prefix}root`;
  };
  if (spec.callable.length > 0) {
    const alternatives: string[] = [];
    for (const [i, tool] of spec.callable.entries()) {
      const args = await addSchema(tool.schema, `t${i}_`);
      const head = ebnfLiteral(`{"name":${JSON.stringify(tool.name)},"arguments":`);
      alternatives.push(`(${head} ${args} ${ebnfLiteral(`}${TOOL_CALL_CLOSE}`)})`);
    }
    rules.push(`gh_call ::= ${alternatives.join(' | ')}`);
    const more = spec.parallel ? ` (${ebnfLiteral(TOOL_CALL_SEPARATOR + TOOL_CALL_OPEN)} gh_call)*` : '';
    rules.push(`gh_calls ::= gh_call${more} ${end}`);
  }
  const message = spec.messageSchema ? `${await addSchema(spec.messageSchema, 'm_')} ${end}` : undefined;

  let root: string | undefined;
  let freeText: TurnGrammar['freeText'] = 'none';
  if (spec.calls === 'lazy' && !message) {
    freeText = 'calls';
    root = 'gh_calls';
  } else if (spec.calls === 'lazy') {
    root = `${lead} ((${open} gh_calls) | (${message}))`;
  } else if (spec.calls === 'forced') {
    root = `${lead} ${open} gh_calls`;
  } else if (message) {
    root = `${lead} ${message}`;
  } else {
    freeText = 'no-calls';
  }
  if (root === undefined) return { freeText };
  rules.unshift(`root ::= ${root}`);
  return { freeText, grammar: rules.join('\n') };
}

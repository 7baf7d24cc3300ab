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
 * The engine's classes for a character inside a JSON string let through what JSON or UTF-8 forbid: the
 * bounded-length one (`[^\"\\\r\n]`) a raw tab or other control character, and over a byte vocabulary
 * every class that reaches beyond ASCII accepts invalid UTF-8 (overlong forms, surrogates, lead bytes above
 * U+10FFFF: seen with 0.1.27, negated and positive classes alike). So string characters are printable ASCII
 * except `"` and `\`; other characters are written as `\uXXXX` escapes where the schema allows escapes
 * (strings without length bounds). Enum and const strings are literals and keep any character.
 */
const ENGINE_STRING_CHARS = new Set(['[^\\"\\\\\\r\\n]', '[^\\0-\\x1f\\"\\\\\\r\\n]']);
const SAFE_STRING_CHAR = '[ !#-[\\]-~]';

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
      if (c === '"') out += asciiLiteral(literal);
      else out += ENGINE_STRING_CHARS.has(literal) ? SAFE_STRING_CHAR : literal;
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

/**
 * The engine prints a non-ASCII character of a literal as `\xfc` or `\u00fc`, and reads `\xfc` back as the
 * single byte 0xFC, so an enum value like "ünï" would come out as invalid UTF-8. Every literal from a schema
 * is a piece of JSON text where a non-ASCII character can only sit inside a string, so it is written as a
 * JSON escape instead (`\u00fc`; a surrogate pair above U+FFFF): the parsed value is the same.
 */
function asciiLiteral(literal: string): string {
  let out = '';
  for (let i = 0; i < literal.length; i++) {
    const c = literal[i];
    if (c !== '\\') {
      const code = c.codePointAt(0)!;
      if (code < 0x80) out += c;
      else {
        out += jsonEscape(code);
        if (code > 0xffff) i++;
      }
      continue;
    }
    const kind = literal[i + 1];
    const width = kind === 'x' ? 2 : kind === 'u' ? 4 : kind === 'U' ? 8 : 0;
    if (width === 0) {
      out += literal.slice(i, i + 2);
      i++;
      continue;
    }
    const code = parseInt(literal.slice(i + 2, i + 2 + width), 16);
    out += code < 0x80 ? literal.slice(i, i + 2 + width) : jsonEscape(code);
    i += 1 + width;
  }
  return out;
}

/** `\\uXXXX` (EBNF text for the JSON escape), two of them for a character above U+FFFF. */
function jsonEscape(code: number): string {
  const units = String.fromCodePoint(code);
  let out = '';
  for (let k = 0; k < units.length; k++) out += `\\\\u${units.charCodeAt(k).toString(16).padStart(4, '0')}`;
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

/**
 * Reader for the RWKV "World" vocabulary file (`rwkv_vocab_v20230424.txt`).
 *
 * Each line is `<id> <python literal> <byte length>`. The literal may itself contain spaces, so (like the
 * official loaders) the id ends at the first space and the length starts after the last one.
 */
import { readFileSync } from 'node:fs';
import { decodePythonLiteralInto, maxLiteralBytes } from './python-literal.js';

export interface VocabEntry {
  readonly id: number;
  readonly bytes: Uint8Array;
}

/** A malformed vocabulary file; the message names the file and the 1-based line. */
export class VocabFormatError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    reason: string,
  ) {
    super(`${file}:${line}: ${reason}`);
    this.name = 'VocabFormatError';
  }
}

/** Parses vocabulary text. `file` is only used in error messages. */
export function parseVocab(text: string, file: string): VocabEntry[] {
  const entries: VocabEntry[] = [];
  // All tokens share one buffer: 65k separate ArrayBuffers cost more in GC than the parsing itself.
  let pool = new Uint8Array(Math.max(1024, text.length));
  let used = 0;
  let lineStart = 0;
  for (let lineNo = 1; lineStart < text.length; lineNo++) {
    let lineEnd = text.indexOf('\n', lineStart);
    if (lineEnd < 0) lineEnd = text.length;
    const line = text.slice(lineStart, text.charCodeAt(lineEnd - 1) === 13 ? lineEnd - 1 : lineEnd);
    lineStart = lineEnd + 1;
    if (line.length === 0) continue; // trailing newline at end of file
    try {
      const first = line.indexOf(' ');
      const last = line.lastIndexOf(' ');
      if (first < 0 || last <= first) throw new Error('expected "<id> <literal> <byte length>"');
      const id = parseDecimal(line.slice(0, first), 'token id');
      const expected = parseDecimal(line.slice(last + 1), 'byte length');
      const literal = line.slice(first + 1, last).trim();
      if (pool.length - used < maxLiteralBytes(literal)) {
        const grown = new Uint8Array(2 * pool.length + maxLiteralBytes(literal));
        grown.set(pool.subarray(0, used));
        pool = grown;
        // Earlier entries keep views of the old buffer, which stays valid.
      }
      const end = decodePythonLiteralInto(literal, pool, used);
      if (end - used !== expected)
        throw new Error(`literal is ${end - used} bytes but the line says ${expected}`);
      if (end === used) throw new Error('empty token');
      entries.push({ id, bytes: pool.subarray(used, end) });
      used = end;
    } catch (e) {
      throw new VocabFormatError(file, lineNo, (e as Error).message);
    }
  }
  return entries;
}

function parseDecimal(text: string, what: string): number {
  const value = Number(text);
  if (text.length === 0 || !/^[0-9]+$/.test(text) || !Number.isSafeInteger(value))
    throw new Error(`bad ${what} ${JSON.stringify(text)}`);
  return value;
}

/** Reads and parses a vocabulary file (must be valid UTF-8). */
export function readVocabFile(path: string): VocabEntry[] {
  const raw = readFileSync(path);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(raw);
  } catch {
    throw new VocabFormatError(path, firstInvalidUtf8Line(raw), 'line is not valid UTF-8');
  }
  return parseVocab(text, path);
}

function firstInvalidUtf8Line(raw: Uint8Array): number {
  const strict = new TextDecoder('utf-8', { fatal: true });
  let start = 0;
  for (let line = 1; ; line++) {
    const end = raw.indexOf(0x0a, start);
    try {
      strict.decode(raw.subarray(start, end < 0 ? raw.length : end));
    } catch {
      return line;
    }
    if (end < 0) return line;
    start = end + 1;
  }
}

/**
 * Decodes the Python literals used in RWKV vocabulary files into the token's bytes.
 *
 * A `str` literal ('…' or "…") stands for the UTF-8 encoding of its text; a `b'…'` literal stands for raw
 * bytes. We implement Python's escape rules rather than JSON's because the file was written by Python's
 * `repr()` (e.g. `'\x00'`, `b'\xf9'`, `'\u200b'`). Errors are thrown as plain messages; the caller adds the
 * file name and line number.
 */

const SIMPLE_ESCAPES: Readonly<Record<string, number>> = {
  '\\': 0x5c,
  "'": 0x27,
  '"': 0x22,
  a: 0x07,
  b: 0x08,
  f: 0x0c,
  n: 0x0a,
  r: 0x0d,
  t: 0x09,
  v: 0x0b,
};

const HEX = /^[0-9a-fA-F]+$/;

/** Returns the bytes a Python `str` or `bytes` literal denotes. Throws an Error describing the problem. */
export function decodePythonLiteral(literal: string): Uint8Array {
  const out = new Uint8Array(maxLiteralBytes(literal));
  return out.slice(0, decodePythonLiteralInto(literal, out, 0));
}

/** Upper bound on the decoded size: no character or escape yields more than 3 bytes per UTF-16 unit. */
export function maxLiteralBytes(literal: string): number {
  return 3 * literal.length;
}

/**
 * Writes the literal's bytes into `out` at `offset` (needs `maxLiteralBytes(literal)` bytes of room) and
 * returns the offset after them. Lets the vocabulary reader pack all tokens into one buffer.
 */
export function decodePythonLiteralInto(literal: string, out: Uint8Array, offset: number): number {
  let pos = 0;
  let isBytes = false;
  // Prefixes: b/B for bytes, u/U is a no-op in Python 3. Raw/f-strings never appear in repr() output.
  while (pos < literal.length && literal[pos] !== "'" && literal[pos] !== '"') {
    const p = literal[pos];
    if ((p === 'b' || p === 'B') && !isBytes) isBytes = true;
    else if ((p === 'u' || p === 'U') && pos === 0) {
      /* accepted, meaningless in Python 3 */
    } else throw new Error(`unsupported literal prefix in ${JSON.stringify(literal)}`);
    pos++;
  }
  const quote = literal[pos];
  if (quote === undefined) throw new Error(`not a Python string literal: ${JSON.stringify(literal)}`);
  if (literal.startsWith(quote.repeat(3), pos)) throw new Error('triple-quoted literals are not supported');
  pos++;

  // Every character or escape yields one unit: a byte (b'' literals) or a code point (str literals).
  const emit = isBytes
    ? (unit: number) => {
        out[offset++] = unit;
      }
    : (unit: number) => {
        offset = writeUtf8(unit, out, offset);
      };
  const quoteCode = quote.charCodeAt(0);
  let closed = false;
  while (pos < literal.length) {
    let cp = literal.charCodeAt(pos++);
    if (cp === quoteCode) {
      closed = true;
      break;
    }
    if (cp !== 0x5c /* backslash */) {
      if (cp >= 0xd800 && cp <= 0xdbff && pos < literal.length) {
        const low = literal.charCodeAt(pos);
        if (low >= 0xdc00 && low <= 0xdfff) {
          cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
          pos++;
        }
      }
      if (isBytes && cp > 0x7f) throw new Error('bytes literal contains a non-ASCII character');
      emit(cp);
      continue;
    }
    const esc = literal[pos];
    if (esc === undefined) break; // unterminated: reported below
    pos++;
    if (esc in SIMPLE_ESCAPES) {
      emit(SIMPLE_ESCAPES[esc]);
    } else if (esc >= '0' && esc <= '7') {
      let digits = esc;
      while (digits.length < 3 && /[0-7]/.test(literal[pos] ?? '')) digits += literal[pos++];
      const value = parseInt(digits, 8);
      if (isBytes && value > 0xff) throw new Error(`octal escape \\${digits} out of range for bytes`);
      emit(value);
    } else if (esc === 'x' || (!isBytes && (esc === 'u' || esc === 'U'))) {
      const n = esc === 'x' ? 2 : esc === 'u' ? 4 : 8;
      const digits = literal.slice(pos, pos + n);
      if (digits.length !== n || !HEX.test(digits)) throw new Error(`truncated \\${esc} escape`);
      pos += n;
      const value = parseInt(digits, 16);
      if (value > 0x10ffff) throw new Error(`\\${esc}${digits} is not a valid code point`);
      emit(value);
    } else if (esc === 'N' && !isBytes) {
      throw new Error('\\N{name} escapes are not supported');
    } else {
      // Python keeps unknown escapes verbatim (backslash included), with a DeprecationWarning.
      emit(0x5c);
      pos--;
    }
  }
  if (!closed) throw new Error(`unterminated string literal ${JSON.stringify(literal)}`);
  if (pos !== literal.length)
    throw new Error(`unexpected text after the literal: ${JSON.stringify(literal.slice(pos))}`);
  return offset;
}

/** UTF-8 encodes one code point. Lone surrogates are refused, as Python's `str.encode('utf-8')` does. */
function writeUtf8(cp: number, out: Uint8Array, o: number): number {
  if (cp >= 0xd800 && cp <= 0xdfff)
    throw new Error(`surrogate U+${cp.toString(16)} cannot be encoded as UTF-8`);
  if (cp < 0x80) {
    out[o++] = cp;
  } else if (cp < 0x800) {
    out[o++] = 0xc0 | (cp >> 6);
    out[o++] = 0x80 | (cp & 0x3f);
  } else if (cp < 0x10000) {
    out[o++] = 0xe0 | (cp >> 12);
    out[o++] = 0x80 | ((cp >> 6) & 0x3f);
    out[o++] = 0x80 | (cp & 0x3f);
  } else {
    out[o++] = 0xf0 | (cp >> 18);
    out[o++] = 0x80 | ((cp >> 12) & 0x3f);
    out[o++] = 0x80 | ((cp >> 6) & 0x3f);
    out[o++] = 0x80 | (cp & 0x3f);
  }
  return o;
}

import { decodePythonLiteral } from './python-literal';
import { parseVocab, VocabFormatError } from './vocab-file';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('decodePythonLiteral', () => {
  test.each([
    ["'abc'", '616263'],
    ['"it\'s"', '697427 73'.replace(' ', '')],
    ["'\\x00'", '00'],
    ["'\\xe9'", 'c3a9'], // str: code point U+00E9, UTF-8 encoded
    ["b'\\xe9'", 'e9'], // bytes: the raw byte
    ["'\\n\\t\\r\\\\\\''", '0a090d5c27'],
    ["'\\\"'", '22'],
    ["'\\a\\b\\f\\v'", '07080c0b'],
    ["'\\0\\101\\7'", '004107'],
    ["'\\u200b'", 'e2808b'],
    ["'\\U0001F600'", 'f09f9880'],
    ["b'\\u200b'", '5c7532303062'], // \u is not an escape in bytes
    ["'\\q'", '5c71'], // unknown escapes stay verbatim
    ["'人 a'", 'e4baba2061'],
    ["'😀'", 'f09f9880'],
    ["u'x'", '78'],
  ])('%s', (lit, expected) => {
    expect(hex(decodePythonLiteral(lit))).toBe(expected);
  });

  test.each([
    ["'abc"], // unterminated
    ["'ab\\'"], // escaped closing quote
    ["'a' 'b'"], // concatenation
    ["r'a'"],
    ["'\\x4'"],
    ["'\\ud800'"], // lone surrogate: not UTF-8 encodable
    ["b'é'"],
    ["b'\\777'"],
    ["'\\N{BULLET}'"],
    ["'''a'''"],
    ['abc'],
  ])('rejects %s', (lit) => {
    expect(() => decodePythonLiteral(lit)).toThrow();
  });
});

describe('parseVocab', () => {
  test('parses ids, literals with spaces, CRLF and a final newline', () => {
    const entries = parseVocab("1 '\\x00' 1\r\n2 b'\\xff' 1\n3 ' a b ' 5\n4 '  ' 2\n", 'v.txt');
    expect(entries.map((e) => [e.id, hex(e.bytes)])).toEqual([
      [1, '00'],
      [2, 'ff'],
      [3, '2061206220'],
      [4, '2020'],
    ]);
  });

  test.each([
    ["1 'a' 1\n2 'bc' 3\n", 2, /2 bytes but the line says 3/],
    ["1 'a' 1\nx 'b' 1\n", 2, /bad token id/],
    ["1 'a' 1\n2 'b' x\n", 2, /bad byte length/],
    ["1 'a 1\n", 1, /unterminated/],
    ["1 'a' 1\n\n3\n", 3, /expected/],
  ])('error names file and line: %j', (text, line, reason) => {
    let error: unknown;
    try {
      parseVocab(text, 'vocab.txt');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(VocabFormatError);
    expect((error as VocabFormatError).line).toBe(line);
    expect((error as Error).message).toMatch(new RegExp(`^vocab\\.txt:${line}: `));
    expect((error as Error).message).toMatch(reason);
  });
});

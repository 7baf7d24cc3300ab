import { StreamingTextDecoder } from './streaming-decoder';
import { WorldTokenizer } from './world-tokenizer';

// A synthetic vocabulary: every byte (ids 1..256) plus a few multi-byte tokens that cut characters apart.
const euro = new TextEncoder().encode('€'); // e2 82 ac
const grin = new TextEncoder().encode('😀'); // f0 9f 98 80
const entries = [
  ...Array.from({ length: 256 }, (_, b) => ({ id: b + 1, bytes: Uint8Array.of(b) })),
  { id: 300, bytes: Uint8Array.of(0x61, euro[0]) }, // "a" + first byte of €
  { id: 301, bytes: euro.subarray(1) }, // rest of €
  { id: 302, bytes: Uint8Array.of(0x62, grin[0], grin[1]) },
  { id: 303, bytes: Uint8Array.of(grin[2], grin[3], 0x63) },
];
const tok = WorldTokenizer.fromEntries(entries);

describe('StreamingTextDecoder', () => {
  test('holds back a character split over two tokens', () => {
    const d = new StreamingTextDecoder(tok);
    expect(d.push(300)).toBe('a');
    expect(d.push(301)).toBe('€');
    expect(d.push(302)).toBe('b');
    expect(d.push(303)).toBe('😀c');
    expect(d.flush()).toBe('');
  });

  test('byte-level tokens: one character fed a byte at a time', () => {
    const d = new StreamingTextDecoder(tok);
    const out = Array.from(grin, (b) => d.push(b + 1));
    expect(out).toEqual(['', '', '', '😀']);
  });

  test('flush emits an unfinished character as U+FFFD and the decoder is reusable', () => {
    const d = new StreamingTextDecoder(tok);
    expect(d.push(302)).toBe('b');
    expect(d.flush()).toBe('\ufffd');
    expect(d.pushAll([0x78 + 1, 300, 301])).toBe('xa€');
  });

  test('bytes that can never complete a character are replaced at once', () => {
    const d = new StreamingTextDecoder(tok);
    expect(d.push(0xe2 + 1)).toBe('');
    expect(d.push(0x41 + 1)).toBe('\ufffdA');
    expect(d.push(0xff + 1)).toBe('\ufffd');
  });

  test('id 0 produces nothing; unknown ids throw', () => {
    const d = new StreamingTextDecoder(tok);
    expect(d.push(0)).toBe('');
    expect(() => d.push(299)).toThrow(/unknown token id/);
  });

  test('synthetic vocabulary encodes greedily', () => {
    const input = new TextEncoder().encode('a€b😀c');
    expect(tok.encodeBytes(input)).toEqual([300, 301, 302, 303]);
  });

  test('rejects duplicate and reserved ids', () => {
    expect(() => WorldTokenizer.fromEntries([{ id: 0, bytes: Uint8Array.of(1) }])).toThrow(/reserved/);
    expect(() =>
      WorldTokenizer.fromEntries([
        { id: 1, bytes: Uint8Array.of(1) },
        { id: 1, bytes: Uint8Array.of(2) },
      ]),
    ).toThrow(/defined twice/);
    expect(() =>
      WorldTokenizer.fromEntries([
        { id: 1, bytes: Uint8Array.of(1) },
        { id: 2, bytes: Uint8Array.of(1) },
      ]),
    ).toThrow(/same bytes/);
  });

  test('a byte with no token cannot be encoded', () => {
    const small = WorldTokenizer.fromEntries([{ id: 1, bytes: Uint8Array.of(0x61) }]);
    expect(() => small.encodeBytes(Uint8Array.of(0x61, 0x62))).toThrow(/0x62 at offset 1/);
  });
});

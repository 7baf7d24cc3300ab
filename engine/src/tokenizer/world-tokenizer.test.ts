import * as fs from 'node:fs';
import * as path from 'node:path';
import { rwkv7FixtureDir } from './fixture-dir';
import { StreamingTextDecoder } from './streaming-decoder';
import { WorldTokenizer } from './world-tokenizer';

interface TokenizerCase {
  name: string;
  kind: 'text' | 'bytes';
  text?: string;
  input_hex: string;
  ids: number[];
  token_bytes_hex: string[];
  decoded_hex: string;
  valid_utf8: boolean;
  decoded_text: string | null;
  decoded_text_lossy_python?: string;
}

const dir = rwkv7FixtureDir();
const casesPath = path.join(dir, 'tokenizer-cases.json');
const vocabPath = path.join(dir, 'rwkv_vocab_v20230424.txt');
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const bytes = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));

if (!fs.existsSync(casesPath) || !fs.existsSync(vocabPath)) {
  test('World tokenizer fixtures', () => {
    console.warn(`fixtures not found in ${dir}; World tokenizer fixture tests did not run`);
  });
} else {
  const cases: TokenizerCase[] = JSON.parse(fs.readFileSync(casesPath, 'utf8')).cases;
  const tok = WorldTokenizer.fromFile(vocabPath);

  describe('WorldTokenizer on the official vocabulary', () => {
    test('vocabulary shape', () => {
      expect(cases.length).toBeGreaterThanOrEqual(7);
      expect(tok.vocabSize).toBe(65530);
      for (let b = 0; b < 256; b++) expect(hex(tok.tokenBytes(b + 1))).toBe(b.toString(16).padStart(2, '0'));
      expect(tok.tokenBytes(0).length).toBe(0);
      expect(tok.tokenBytes(65529).length).toBe(128);
    });

    describe.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
      test('encodeBytes gives the reference ids', () => {
        expect(tok.encodeBytes(bytes(c.input_hex))).toEqual(c.ids);
      });
      test('encode(text) matches encodeBytes for text cases', () => {
        if (c.kind === 'text') expect(tok.encode(c.text!)).toEqual(c.ids);
        else expect(c.valid_utf8).toBe(false);
      });
      test('decodeBytes and tokenBytes', () => {
        expect(hex(tok.decodeBytes(c.ids))).toBe(c.decoded_hex);
        expect(c.ids.map((id) => hex(tok.tokenBytes(id)))).toEqual(c.token_bytes_hex);
      });
      test('decode and streaming decode', () => {
        const streamed = new StreamingTextDecoder(tok);
        let text = '';
        for (const id of c.ids) text += streamed.push(id);
        text += streamed.flush();
        if (c.valid_utf8) {
          expect(tok.decode(c.ids)).toBe(c.decoded_text);
          expect(text).toBe(c.decoded_text);
        } else {
          // Lossy: same result as decoding everything at once, and no broken characters.
          expect(text).toBe(tok.decode(c.ids));
          expect(text).toContain('\ufffd');
        }
      });
    });

    test('lossy decode of invalid UTF-8 matches Python errors="replace"', () => {
      const c = cases.find((x) => !x.valid_utf8)!;
      expect(tok.decode(c.ids)).toBe(c.decoded_text_lossy_python);
    });

    test('id 0 decodes to nothing; unknown ids throw', () => {
      expect(tok.decode([0, 33155, 0])).toBe('Hello');
      expect(() => tok.decode([65530])).toThrow(/unknown token id 65530/);
      expect(() => tok.decode([-1])).toThrow(RangeError);
      expect(() => tok.decode([1.5])).toThrow(RangeError);
      expect(() => tok.tokenBytes(70000)).toThrow(RangeError);
    });

    test('a leading BOM survives a round trip', () => {
      const ids = tok.encode('\ufeffhi');
      expect(ids[0]).toBe(19125);
      expect(tok.decode(ids)).toBe('\ufeffhi');
    });

    test('round trip of arbitrary bytes', () => {
      const data = new Uint8Array(4096);
      let x = 12345;
      for (let i = 0; i < data.length; i++) data[i] = (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 24;
      expect(hex(tok.decodeBytes(tok.encodeBytes(data)))).toBe(hex(data));
    });

    test('encodes 1 MB of text well under a second', () => {
      const source = cases
        .filter((c) => c.kind === 'text')
        .map((c) => c.text)
        .join('\n');
      const text = source.repeat(Math.ceil(1_000_000 / Buffer.byteLength(source))).slice(0, 1_000_000);
      const input = new TextEncoder().encode(text);
      tok.encodeBytes(input.subarray(0, 10_000)); // warm up the JIT
      const t0 = performance.now();
      const ids = tok.encodeBytes(input);
      const ms = performance.now() - t0;
      console.log(`encoded ${input.length} bytes into ${ids.length} tokens in ${ms.toFixed(1)} ms`);
      expect(tok.decode(ids)).toBe(new TextDecoder().decode(input));
      expect(ms).toBeLessThan(1000);
    });
  });
}

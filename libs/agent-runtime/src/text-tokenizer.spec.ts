import * as path from 'node:path';
import { ByteTokenizer, WorldTextTokenizer } from './text-tokenizer.js';
import { fixtureDir } from './testing/test-model.js';

describe('ByteTokenizer', () => {
  const tok = new ByteTokenizer();

  it('maps UTF-8 bytes to ids 1..256 and id 0 to end-of-text', () => {
    expect(tok.vocabSize).toBe(257);
    expect(tok.endOfTextId).toBe(0);
    expect(tok.encode('Aé')).toEqual([0x41 + 1, 0xc3 + 1, 0xa9 + 1]);
    expect(tok.tokenBytes(0)).toEqual(new Uint8Array(0));
    expect(Array.from(tok.tokenBytes(256))).toEqual([255]);
    expect(() => tok.tokenBytes(257)).toThrow(RangeError);
  });

  it('round-trips any text through its token bytes', () => {
    const text = 'héllo 世界 🎉\n\n';
    const bytes = tok.encode(text).flatMap((id) => Array.from(tok.tokenBytes(id)));
    expect(Buffer.from(bytes).toString('utf8')).toBe(text);
  });
});

describe('WorldTextTokenizer', () => {
  const dir = fixtureDir();
  if (!dir) {
    it('needs ../shared/fixtures/rwkv7 (absent here, so the World adapter was not checked)', () => {});
    return;
  }
  const tok = WorldTextTokenizer.fromFile(path.join(dir, 'rwkv_vocab_v20230424.txt'));

  it('adapts the World tokenizer: 65530 decodable ids, end-of-text 0', () => {
    expect(tok.vocabSize).toBe(65530);
    expect(tok.endOfTextId).toBe(0);
    const ids = tok.encode('User: hi\n\nAssistant:');
    expect(Buffer.from(ids.flatMap((id) => Array.from(tok.tokenBytes(id)))).toString()).toBe(
      'User: hi\n\nAssistant:',
    );
    expect(tok.encodeBytes(Uint8Array.of(0xa9, 0x0a))).toHaveLength(2);
  });
});

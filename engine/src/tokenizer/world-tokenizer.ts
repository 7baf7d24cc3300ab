/**
 * The RWKV "World" tokenizer: greedy longest match over UTF-8 bytes, identical to the official
 * RWKV_TOKENIZER / TRIE_TOKENIZER. Every single byte is a token (ids 1..256), so any byte string encodes.
 */
import { ByteTrie } from './byte-trie.js';
import { readVocabFile, type VocabEntry } from './vocab-file.js';

/** Id 0: document separator. Not in the vocabulary file, never produced by `encode`, decodes to nothing. */
export const END_OF_TEXT_ID = 0;

const utf8Encoder = new TextEncoder();
// ignoreBOM: keep a leading U+FEFF (token 19125 is a BOM); the default would silently drop it.
const lossyDecoder = new TextDecoder('utf-8', { ignoreBOM: true });

export class WorldTokenizer {
  /**
   * Token ids are `0 .. vocabSize-1` (65530 for the official file: ids 1..65529 plus id 0). Note the model's
   * embedding has more rows (65536); ids ≥ vocabSize have no bytes and `decode` rejects them.
   */
  readonly vocabSize: number;
  private readonly trie: ByteTrie;
  /** All token bytes back to back; token `id` is `pool[start[id] .. start[id]+length[id]]`. */
  private readonly pool: Uint8Array;
  private readonly start: Int32Array;
  /** -1 marks an id the vocabulary does not define. */
  private readonly length: Int32Array;

  private constructor(entries: readonly VocabEntry[]) {
    let maxId = END_OF_TEXT_ID;
    let totalBytes = 0;
    for (const e of entries) {
      if (!Number.isSafeInteger(e.id) || e.id <= END_OF_TEXT_ID)
        throw new Error(`token id ${e.id} is invalid (id 0 is reserved for <|endoftext|>)`);
      if (e.bytes.length === 0) throw new Error(`token ${e.id} has no bytes`);
      maxId = Math.max(maxId, e.id);
      totalBytes += e.bytes.length;
    }
    this.vocabSize = maxId + 1;
    this.pool = new Uint8Array(totalBytes);
    this.start = new Int32Array(this.vocabSize);
    this.length = new Int32Array(this.vocabSize).fill(-1);
    this.length[END_OF_TEXT_ID] = 0;
    this.trie = new ByteTrie(totalBytes);
    let offset = 0;
    for (const e of entries) {
      if (this.length[e.id] !== -1) throw new Error(`token id ${e.id} is defined twice`);
      this.pool.set(e.bytes, offset);
      this.start[e.id] = offset;
      this.length[e.id] = e.bytes.length;
      offset += e.bytes.length;
      this.trie.insert(e.bytes, e.id);
    }
  }

  static fromEntries(entries: readonly VocabEntry[]): WorldTokenizer {
    return new WorldTokenizer(entries);
  }

  static fromFile(path: string): WorldTokenizer {
    const entries = readVocabFile(path);
    try {
      return new WorldTokenizer(entries);
    } catch (e) {
      throw new Error(`${path}: ${(e as Error).message}`);
    }
  }

  encodeBytes(bytes: Uint8Array): number[] {
    const ids: number[] = [];
    const trie = this.trie;
    for (let pos = 0; pos < bytes.length;) {
      const len = trie.longestMatch(bytes, pos);
      if (len === 0) {
        const b = bytes[pos].toString(16).padStart(2, '0');
        throw new Error(`byte 0x${b} at offset ${pos} is not in the vocabulary`);
      }
      ids.push(trie.matchedId);
      pos += len;
    }
    return ids;
  }

  /** Encodes the UTF-8 bytes of `text`. Lone surrogates become U+FFFD (TextEncoder's rule). */
  encode(text: string): number[] {
    return this.encodeBytes(utf8Encoder.encode(text));
  }

  decodeBytes(ids: ArrayLike<number>): Uint8Array {
    let total = 0;
    for (let i = 0; i < ids.length; i++) total += this.lengthOf(ids[i]);
    const out = new Uint8Array(total);
    let offset = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      const s = this.start[id];
      const n = this.length[id];
      out.set(this.pool.subarray(s, s + n), offset);
      offset += n;
    }
    return out;
  }

  /**
   * Decodes to text. Lossy: invalid UTF-8 (e.g. a byte-level token cut mid-character) becomes U+FFFD per
   * the WHATWG decoder (one per maximal invalid subsequence, like Python's errors='replace'). For a strict
   * decode use `new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(decodeBytes(ids))`.
   */
  decode(ids: ArrayLike<number>): string {
    return lossyDecoder.decode(this.decodeBytes(ids));
  }

  /** A copy of the bytes of one token (empty for id 0). */
  tokenBytes(id: number): Uint8Array {
    const n = this.lengthOf(id);
    const s = this.start[id];
    return this.pool.slice(s, s + n);
  }

  private lengthOf(id: number): number {
    const n = Number.isInteger(id) && id >= 0 && id < this.vocabSize ? this.length[id] : -1;
    if (n < 0) throw new RangeError(`unknown token id ${id} (vocabulary has ids 0..${this.vocabSize - 1})`);
    return n;
  }
}

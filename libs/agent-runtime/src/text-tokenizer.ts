/**
 * What generation needs from a tokenizer, satisfied by the byte tokenizer of the embedded model and by the
 * RWKV World tokenizer of real models.
 */
import { END_OF_TEXT_ID, WorldTokenizer } from '@gooseherd/engine';

export interface TextTokenizer {
  /** Ids `0 .. vocabSize-1` can be decoded; a model with more logits must ban the rest. */
  readonly vocabSize: number;
  readonly endOfTextId: number;
  /** UTF-8 of `text`, tokenized. */
  encode(text: string): number[];
  /** Any byte string, tokenized (needed when a turn boundary falls inside a character's bytes). */
  encodeBytes(bytes: Uint8Array): number[];
  /** The bytes one token stands for (empty for end-of-text). */
  tokenBytes(id: number): Uint8Array;
}

const utf8 = new TextEncoder();

/** Id 0 = end-of-text, ids 1..256 = bytes 0..255. The tokenizer of the embedded model. */
export class ByteTokenizer implements TextTokenizer {
  readonly vocabSize = 257;
  readonly endOfTextId = 0;
  private readonly bytes: readonly Uint8Array[] = Array.from({ length: 257 }, (_, id) =>
    id === 0 ? new Uint8Array(0) : Uint8Array.of(id - 1),
  );

  encode(text: string): number[] {
    return this.encodeBytes(utf8.encode(text));
  }

  encodeBytes(bytes: Uint8Array): number[] {
    return Array.from(bytes, (b) => b + 1);
  }

  tokenBytes(id: number): Uint8Array {
    const b = this.bytes[id];
    if (!b) throw new RangeError(`unknown token id ${id} (byte tokenizer has ids 0..256)`);
    return b;
  }
}

/** The RWKV World tokenizer as a TextTokenizer (vocabSize 65530 for the official file; models have 65536 logits). */
export class WorldTextTokenizer implements TextTokenizer {
  readonly endOfTextId = END_OF_TEXT_ID;
  readonly vocabSize: number;

  constructor(readonly world: WorldTokenizer) {
    this.vocabSize = world.vocabSize;
  }

  static fromFile(vocabPath: string): WorldTextTokenizer {
    return new WorldTextTokenizer(WorldTokenizer.fromFile(vocabPath));
  }

  encode(text: string): number[] {
    return this.world.encode(text);
  }

  encodeBytes(bytes: Uint8Array): number[] {
    return this.world.encodeBytes(bytes);
  }

  tokenBytes(id: number): Uint8Array {
    return this.world.tokenBytes(id);
  }
}

/**
 * Turns a stream of generated token ids into text without ever emitting half a character.
 *
 * A World token can end in the middle of a UTF-8 sequence (byte-level tokens, or a CJK character split
 * over two tokens), so decoding token by token would print U+FFFD and then the rest of the character.
 * The WHATWG streaming decoder does exactly the hold-back we need: it keeps an incomplete trailing
 * sequence until the next bytes arrive and replaces bytes that can no longer become valid with U+FFFD.
 * The concatenated output therefore equals the lossy decode of all tokens at once.
 */

/** What the decoder needs from a tokenizer (WorldTokenizer satisfies it). */
export interface TokenByteSource {
  tokenBytes(id: number): Uint8Array;
}

export class StreamingTextDecoder {
  private readonly decoder = new TextDecoder('utf-8', { ignoreBOM: true });

  constructor(private readonly tokens: TokenByteSource) {}

  /** Adds one token; returns the text it completes (possibly empty). Unknown ids throw. */
  push(id: number): string {
    return this.decoder.decode(this.tokens.tokenBytes(id), { stream: true });
  }

  pushAll(ids: Iterable<number>): string {
    let text = '';
    for (const id of ids) text += this.push(id);
    return text;
  }

  /** Ends the stream: held-back bytes of an unfinished character come out as U+FFFD. Reusable afterwards. */
  flush(): string {
    return this.decoder.decode();
  }
}

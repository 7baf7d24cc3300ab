/**
 * A compact byte trie for greedy longest-match tokenization.
 *
 * Nodes are plain integers (root = 0). Edges live in one open-addressing hash table keyed by
 * `node * 256 + byte`, so the whole trie is a few typed arrays (≈ 12 bytes per vocabulary byte) instead of
 * hundreds of thousands of JS objects, and a lookup is a multiply and usually one probe.
 */

const EMPTY = -1;
// A module-scope alias: under Jest (a vm context) every global lookup such as `Math` in a hot loop goes
// through the context's interceptors and made encoding ~25x slower.
const imul = Math.imul;

export class ByteTrie {
  private readonly keys: Int32Array;
  private readonly children: Int32Array;
  private readonly mask: number;
  private readonly shift: number;
  /** Token id ending at each node, or -1. */
  private readonly nodeToken: Int32Array;
  private nodeCount = 1;

  /** Id of the token found by the last successful `longestMatch`. */
  matchedId = -1;

  /** `totalBytes` bounds the node count: the sum of the lengths of all tokens to be inserted. */
  constructor(totalBytes: number) {
    this.nodeToken = new Int32Array(totalBytes + 1).fill(EMPTY);
    // Keys are node*256+byte; keep them inside int32.
    if (totalBytes + 1 > 0x7fffff) throw new Error('vocabulary too large for ByteTrie');
    let capacity = 1024;
    while (capacity < totalBytes * 2) capacity *= 2;
    this.keys = new Int32Array(capacity).fill(EMPTY);
    this.children = new Int32Array(capacity);
    this.mask = capacity - 1;
    this.shift = 32 - Math.log2(capacity);
  }

  /** Adds a token. Throws if the same byte string was already added (the vocabulary would be ambiguous). */
  insert(bytes: Uint8Array, id: number): void {
    let node = 0;
    for (let i = 0; i < bytes.length; i++) {
      const key = node * 256 + bytes[i];
      const slot = this.slotOf(key);
      if (this.keys[slot] === EMPTY) {
        this.keys[slot] = key;
        this.children[slot] = this.nodeCount++;
      }
      node = this.children[slot];
    }
    const previous = this.nodeToken[node];
    if (previous !== EMPTY) throw new Error(`tokens ${previous} and ${id} have the same bytes`);
    this.nodeToken[node] = id;
  }

  /**
   * Length of the longest token that is a prefix of `bytes[pos..]` (0 if none); its id goes to `matchedId`.
   * Returning two values through a field avoids allocating a result object per token.
   */
  longestMatch(bytes: Uint8Array, pos: number): number {
    const { keys, children, nodeToken, mask, shift } = this;
    let node = 0;
    let bestLen = 0;
    for (let i = pos; i < bytes.length; i++) {
      const key = node * 256 + bytes[i];
      let slot = imul(key, 0x9e3779b1) >>> shift;
      while (keys[slot] !== key) {
        if (keys[slot] === EMPTY) return bestLen;
        slot = (slot + 1) & mask;
      }
      node = children[slot];
      const id = nodeToken[node];
      if (id !== EMPTY) {
        bestLen = i - pos + 1;
        this.matchedId = id;
      }
    }
    return bestLen;
  }

  /** Slot holding `key`, or the empty slot where it would go (Fibonacci hashing + linear probing). */
  private slotOf(key: number): number {
    let slot = imul(key, 0x9e3779b1) >>> this.shift;
    while (this.keys[slot] !== EMPTY && this.keys[slot] !== key) slot = (slot + 1) & this.mask;
    return slot;
  }
}

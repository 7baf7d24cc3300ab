/**
 * The dimensions of an RWKV-7 ("x070") model. Never read from a config file: always derived from tensor
 * shapes, as the reference implementation does (see `deriveConfig` in ../checkpoint).
 */
export interface Rwkv7Config {
  readonly nLayer: number;
  /** C: embedding width. */
  readonly nEmbd: number;
  /** H: number of heads. */
  readonly nHead: number;
  /** N: head size; nHead * headSize === nEmbd. */
  readonly headSize: number;
  readonly vocabSize: number;
  /** FFN hidden width (4C in released models). */
  readonly dimFfn: number;
  /** Low-rank (LoRA) inner dimensions. */
  readonly dimDecayLora: number;
  readonly dimALora: number;
  readonly dimVLora: number;
  readonly dimGateLora: number;
}

/** Floats of recurrent state per layer in the reference layout: [att shift C][wkv H·N·N][ffn shift C]. */
export function stateFloatsPerLayer(c: Rwkv7Config): number {
  return 2 * c.nEmbd + c.nHead * c.headSize * c.headSize;
}

/** Floats of recurrent state for one agent: L·(2C + H·N²). */
export function stateFloats(c: Rwkv7Config): number {
  return c.nLayer * stateFloatsPerLayer(c);
}

/**
 * A loaded checkpoint in the one internal layout: official BlinkDL key names (`emb.weight`,
 * `blocks.i.att.receptance.weight`, …) with official shapes, whatever the source file used.
 * `blocks.0.att.v0/v1/v2` may be absent (layer 0 never uses the value residual).
 */
export interface Rwkv7Checkpoint {
  readonly config: Rwkv7Config;
  readonly tensors: ReadonlyMap<string, import('./tensor.js').StoredTensor>;
  /** The file it came from, for error messages. */
  readonly sourcePath: string;
}

/**
 * Byte layout of a serialized agent state ("GHST" v1). All integers little-endian.
 *
 *   offset size field
 *        0    4 magic "GHST"
 *        4    2 format version (u16) = 1
 *        6    1 dtype code (u8): 1 = float32
 *        7    1 flags (u8): none defined, must be 0
 *        8   32 model fingerprint (raw sha256 bytes)
 *       40    4 nLayer   (u32)
 *       44    4 nEmbd C  (u32)
 *       48    4 nHead H  (u32)
 *       52    4 headSize N (u32)
 *       56    8 tokensConsumed (u64)
 *       64    8 payload byte length (u64) = L·(2C + H·N²)·4
 *       72    … payload: float32 LE, per layer [att shift C][wkv H·N·N, row = value channel][ffn shift C]
 *   72+P    4 CRC-32 (IEEE, as zlib) of bytes [0, 72+P)
 *
 * The payload starts 8-byte aligned, so a blob read into an aligned buffer decodes without copying.
 */
export const STATE_MAGIC = 'GHST';
export const STATE_FORMAT_VERSION = 1;
export const DTYPE_FLOAT32 = 1;

export const STATE_HEADER_BYTES = 72;
export const STATE_TRAILER_BYTES = 4;
/** Everything that is not payload: header + checksum. */
export const STATE_OVERHEAD_BYTES = STATE_HEADER_BYTES + STATE_TRAILER_BYTES;

export const OFFSET = {
  magic: 0,
  version: 4,
  dtype: 6,
  flags: 7,
  fingerprint: 8,
  nLayer: 40,
  nEmbd: 44,
  nHead: 48,
  headSize: 52,
  tokensConsumed: 56,
  payloadBytes: 64,
} as const;

export const FINGERPRINT_BYTES = 32;

import * as zlib from 'node:zlib';

/**
 * CRC-32 (IEEE 802.3, the one ZIP uses), computed natively by zlib (Node ≥ 20.15; package engines ask for
 * 20.19). Pass the previous result as `crc` to continue over several chunks.
 */
export function crc32(data: Uint8Array, crc = 0): number {
  return zlib.crc32(data, crc) >>> 0;
}

/**
 * Serializes one agent's RWKV-7 recurrent state to a self-checking binary blob and back (layout in
 * ./state-format.ts). A blob only loads into the model (fingerprint) and dimensions it was saved from, so a
 * resumed agent can never silently run on a state from another checkpoint.
 *
 * The payload is copied as raw bytes (no per-float loops); that relies on a little-endian host, which is
 * checked. NaN payloads and -0 survive bit for bit.
 */
import { crc32 } from 'node:zlib';
import type { Rwkv7Config } from '../model/rwkv7-config.js';
import { StateCodecError, type StateCodecErrorCode } from './state-codec-error.js';
import {
  DTYPE_FLOAT32,
  FINGERPRINT_BYTES,
  OFFSET,
  STATE_FORMAT_VERSION,
  STATE_HEADER_BYTES,
  STATE_MAGIC,
  STATE_OVERHEAD_BYTES,
} from './state-format.js';

/** The dimensions that fix the state's shape (a full Rwkv7Config also fits). */
export type StateDims = Pick<Rwkv7Config, 'nLayer' | 'nEmbd' | 'nHead' | 'headSize'>;

export interface EncodeStateInput {
  readonly config: StateDims;
  /** sha256 of the model weights, 64 hex digits. */
  readonly fingerprint: string;
  readonly tokensConsumed: number;
  /** L·(2C + H·N²) floats in the reference layout (see rwkv7-config.ts `stateFloats`). */
  readonly data: Float32Array;
}

export interface StateHeader {
  readonly formatVersion: number;
  readonly config: StateDims;
  /** Lower-case hex. */
  readonly fingerprint: string;
  readonly tokensConsumed: number;
  readonly payloadBytes: number;
}

export interface DecodedState extends StateHeader {
  /** The state. Without `into` it is a view of the blob's memory when aligned (a copy otherwise). */
  readonly data: Float32Array;
}

export interface DecodeStateOptions {
  /** Copy the payload into this array (must have exactly stateFloats(config) elements), e.g. a live tensor. */
  readonly into?: Float32Array;
}

const DIM_FIELDS = ['nLayer', 'nEmbd', 'nHead', 'headSize'] as const;

/** Floats of one agent's state: L·(2C + H·N²), the same as `stateFloats` in ../model/rwkv7-config. */
export function stateFloatCount(c: StateDims): number {
  return c.nLayer * (2 * c.nEmbd + c.nHead * c.headSize * c.headSize);
}

/** Exact size of an encoded state: payload + STATE_OVERHEAD_BYTES (76: 72-byte header, 4-byte CRC). */
export function stateSizeBytes(config: StateDims): number {
  checkDims(config);
  return STATE_OVERHEAD_BYTES + 4 * stateFloatCount(config);
}

export function encodeState(input: EncodeStateInput): Uint8Array {
  checkHost();
  const { config, data, tokensConsumed } = input;
  checkDims(config);
  const fingerprint = fingerprintBytes(input.fingerprint);
  if (!Number.isSafeInteger(tokensConsumed) || tokensConsumed < 0)
    fail('INVALID_ARGUMENT', `tokensConsumed must be a non-negative safe integer, got ${tokensConsumed}`);
  const floats = stateFloatCount(config);
  if (data.length !== floats)
    fail('INVALID_ARGUMENT', `state has ${data.length} floats but ${describeDims(config)} needs ${floats}`);

  const payloadBytes = 4 * floats;
  const out = new Uint8Array(STATE_OVERHEAD_BYTES + payloadBytes);
  const view = new DataView(out.buffer);
  for (let i = 0; i < 4; i++) out[OFFSET.magic + i] = STATE_MAGIC.charCodeAt(i);
  view.setUint16(OFFSET.version, STATE_FORMAT_VERSION, true);
  view.setUint8(OFFSET.dtype, DTYPE_FLOAT32);
  view.setUint8(OFFSET.flags, 0);
  out.set(fingerprint, OFFSET.fingerprint);
  for (const field of DIM_FIELDS) view.setUint32(OFFSET[field], config[field], true);
  view.setBigUint64(OFFSET.tokensConsumed, BigInt(tokensConsumed), true);
  view.setBigUint64(OFFSET.payloadBytes, BigInt(payloadBytes), true);
  out.set(new Uint8Array(data.buffer, data.byteOffset, payloadBytes), STATE_HEADER_BYTES);
  view.setUint32(
    STATE_HEADER_BYTES + payloadBytes,
    crc32(out.subarray(0, STATE_HEADER_BYTES + payloadBytes)),
    true,
  );
  return out;
}

/**
 * Reads the header without verifying the checksum or the payload (e.g. to list saved states).
 * Refuses blobs that are too short, have the wrong magic or an unsupported version.
 */
export function readStateHeader(blob: Uint8Array): StateHeader {
  if (blob.length < STATE_OVERHEAD_BYTES)
    fail(
      'BAD_LENGTH',
      `state blob is truncated: ${blob.length} bytes, the header and checksum alone take ${STATE_OVERHEAD_BYTES}`,
    );
  const magic = String.fromCharCode(...blob.subarray(OFFSET.magic, OFFSET.magic + 4));
  if (magic !== STATE_MAGIC)
    fail(
      'BAD_MAGIC',
      `not a Gooseherd state blob: magic is ${JSON.stringify(magic)}, expected "${STATE_MAGIC}"`,
    );
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const formatVersion = view.getUint16(OFFSET.version, true);
  if (formatVersion !== STATE_FORMAT_VERSION)
    fail(
      'UNSUPPORTED_VERSION',
      `state format version ${formatVersion} is not supported (this build reads version ${STATE_FORMAT_VERSION})`,
    );
  const tokensConsumed = view.getBigUint64(OFFSET.tokensConsumed, true);
  const payloadBytes = view.getBigUint64(OFFSET.payloadBytes, true);
  if (tokensConsumed > BigInt(Number.MAX_SAFE_INTEGER) || payloadBytes > BigInt(Number.MAX_SAFE_INTEGER))
    fail('BAD_LENGTH', 'state header holds an impossible token count or payload length');
  return {
    formatVersion,
    config: {
      nLayer: view.getUint32(OFFSET.nLayer, true),
      nEmbd: view.getUint32(OFFSET.nEmbd, true),
      nHead: view.getUint32(OFFSET.nHead, true),
      headSize: view.getUint32(OFFSET.headSize, true),
    },
    fingerprint: Buffer.from(
      blob.subarray(OFFSET.fingerprint, OFFSET.fingerprint + FINGERPRINT_BYTES),
    ).toString('hex'),
    tokensConsumed: Number(tokensConsumed),
    payloadBytes: Number(payloadBytes),
  };
}

/**
 * Verifies and decodes a blob for the model described by `expected`. Checks run integrity first (length,
 * checksum), then meaning (dtype, fingerprint, dims), so a corrupted byte is reported as corruption.
 */
export function decodeState(
  blob: Uint8Array,
  expected: { readonly config: StateDims; readonly fingerprint: string },
  options: DecodeStateOptions = {},
): DecodedState {
  checkHost();
  const header = readStateHeader(blob);
  const { payloadBytes } = header;
  const total = STATE_OVERHEAD_BYTES + payloadBytes;
  if (blob.length !== total)
    fail(
      'BAD_LENGTH',
      `state blob is ${blob.length} bytes but its header announces a ${payloadBytes}-byte payload (${total} bytes in all): ` +
        (blob.length < total ? 'truncated' : 'trailing data'),
    );
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const stored = view.getUint32(STATE_HEADER_BYTES + payloadBytes, true);
  const actual = crc32(blob.subarray(0, STATE_HEADER_BYTES + payloadBytes));
  if (stored !== actual)
    fail(
      'CHECKSUM_MISMATCH',
      `state blob is corrupted: CRC-32 is ${hex32(actual)} but ${hex32(stored)} was stored`,
    );

  const dtype = view.getUint8(OFFSET.dtype);
  if (dtype !== DTYPE_FLOAT32)
    fail('UNSUPPORTED_DTYPE', `state dtype code ${dtype} is not supported (only 1 = float32)`);
  const flags = view.getUint8(OFFSET.flags);
  if (flags !== 0)
    fail('UNSUPPORTED_FLAGS', `state flags 0x${flags.toString(16)} are not supported (none are defined)`);
  const wanted = Buffer.from(fingerprintBytes(expected.fingerprint)).toString('hex');
  if (header.fingerprint !== wanted)
    fail(
      'FINGERPRINT_MISMATCH',
      `state was saved for model ${header.fingerprint} but the loaded model is ${wanted}`,
    );
  const differing = DIM_FIELDS.filter((f) => header.config[f] !== expected.config[f]);
  if (differing.length > 0)
    fail(
      'CONFIG_MISMATCH',
      `state dimensions ${describeDims(header.config)} do not match the model's ${describeDims(expected.config)} ` +
        `(differ: ${differing.join(', ')})`,
    );
  const floats = stateFloatCount(header.config);
  if (payloadBytes !== 4 * floats)
    fail(
      'BAD_LENGTH',
      `state payload is ${payloadBytes} bytes but ${describeDims(header.config)} needs ${4 * floats}`,
    );

  return { ...header, data: payloadFloats(blob, floats, options.into) };
}

function payloadFloats(blob: Uint8Array, floats: number, into: Float32Array | undefined): Float32Array {
  const start = blob.byteOffset + STATE_HEADER_BYTES;
  const bytes = blob.subarray(STATE_HEADER_BYTES, STATE_HEADER_BYTES + 4 * floats);
  if (into) {
    if (into.length !== floats)
      fail('INVALID_ARGUMENT', `'into' has ${into.length} floats, the state has ${floats}`);
    new Uint8Array(into.buffer, into.byteOffset, into.byteLength).set(bytes);
    return into;
  }
  if (start % 4 === 0) return new Float32Array(blob.buffer, start, floats);
  return new Float32Array(bytes.slice().buffer); // unaligned: Float32Array views need 4-byte alignment
}

function checkDims(c: StateDims): void {
  for (const f of DIM_FIELDS)
    if (!Number.isInteger(c[f]) || c[f] < 1 || c[f] > 0xffffffff)
      fail('INVALID_ARGUMENT', `config.${f} must be a positive 32-bit integer, got ${c[f]}`);
  if (c.nHead * c.headSize !== c.nEmbd)
    fail('INVALID_ARGUMENT', `config has nHead·headSize = ${c.nHead * c.headSize} ≠ nEmbd = ${c.nEmbd}`);
}

function fingerprintBytes(fingerprint: string): Uint8Array {
  if (typeof fingerprint !== 'string' || !/^[0-9a-fA-F]{64}$/.test(fingerprint))
    fail(
      'INVALID_ARGUMENT',
      `model fingerprint must be a sha256 as 64 hex digits, got ${JSON.stringify(fingerprint)}`,
    );
  return Buffer.from(fingerprint, 'hex');
}

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

function checkHost(): void {
  if (!LITTLE_ENDIAN)
    throw new StateCodecError('INVALID_ARGUMENT', 'state codec requires a little-endian host');
}

function describeDims(c: StateDims): string {
  return `nLayer=${c.nLayer} nEmbd=${c.nEmbd} nHead=${c.nHead} headSize=${c.headSize}`;
}

const hex32 = (x: number) => `0x${(x >>> 0).toString(16).padStart(8, '0')}`;

function fail(code: StateCodecErrorCode, message: string): never {
  throw new StateCodecError(code, message);
}

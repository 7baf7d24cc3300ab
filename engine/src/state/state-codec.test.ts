import { crc32 } from 'node:zlib';
import { stateFloats, type Rwkv7Config } from '../model/rwkv7-config';
import {
  decodeState,
  encodeState,
  readStateHeader,
  StateCodecError,
  stateSizeBytes,
  STATE_HEADER_BYTES,
  STATE_OVERHEAD_BYTES,
  type StateCodecErrorCode,
  type StateDims,
} from './index';

const FP = 'e6dee3d4e31b4d5c40ac99508ac6c701ceef4bed681bf2167ce9a908552bca89';
const OTHER_FP = 'ab'.repeat(32);
const tiny: StateDims = { nLayer: 2, nEmbd: 128, nHead: 2, headSize: 64 }; // fixture model "A"
const floats = 2 * (2 * 128 + 2 * 64 * 64);

function sampleState(n = floats): Float32Array {
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.sin(i) * 10 ** ((i % 7) - 3);
  return data;
}

const bitsOf = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);
const bytesOf = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
/** Bitwise equality (toEqual on floats would treat NaNs as equal regardless of payload). */
const sameBits = (a: Float32Array, b: Float32Array) => a.length === b.length && bytesOf(a).equals(bytesOf(b));

function refusal(fn: () => unknown): StateCodecError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(StateCodecError);
    return e as StateCodecError;
  }
  throw new Error('expected a StateCodecError');
}

function expectRefusal(fn: () => unknown, code: StateCodecErrorCode, message: RegExp) {
  const e = refusal(fn);
  expect(e.code).toBe(code);
  expect(e.message).toMatch(message);
}

/** Rewrites the trailing CRC so that a tampered header passes the integrity check. */
function reseal(blob: Uint8Array): Uint8Array {
  const end = blob.length - 4;
  new DataView(blob.buffer, blob.byteOffset).setUint32(end, crc32(blob.subarray(0, end)), true);
  return blob;
}

describe('state codec', () => {
  test('round trip is bit exact, including NaN payloads, infinities and -0', () => {
    const data = sampleState();
    const bits = bitsOf(data);
    bits[0] = 0x7fc00001; // quiet NaN with payload
    bits[1] = 0x7f800123; // signalling NaN with payload
    bits[2] = 0xffc0beef; // negative NaN
    data[3] = -0;
    data[4] = Infinity;
    data[5] = -Infinity;
    data[6] = 1e-45; // subnormal
    const blob = encodeState({ config: tiny, fingerprint: FP, tokensConsumed: 123_456_789_012, data });
    const out = decodeState(blob, { config: tiny, fingerprint: FP.toUpperCase() });
    expect(sameBits(out.data, data)).toBe(true);
    expect(bitsOf(out.data).slice(0, 3)).toEqual(Uint32Array.of(0x7fc00001, 0x7f800123, 0xffc0beef));
    expect(Object.is(out.data[3], -0)).toBe(true);
    expect(out).toMatchObject({
      tokensConsumed: 123_456_789_012,
      fingerprint: FP,
      formatVersion: 1,
      config: tiny,
    });
  });

  test('decodes into a caller buffer, or from an unaligned copy of the blob', () => {
    const data = sampleState();
    const blob = encodeState({ config: tiny, fingerprint: FP, tokensConsumed: 0, data });
    const into = new Float32Array(floats);
    expect(decodeState(blob, { config: tiny, fingerprint: FP }, { into }).data).toBe(into);
    expect(sameBits(into, data)).toBe(true);
    const shifted = new Uint8Array(blob.length + 1).subarray(1);
    shifted.set(blob);
    expect(sameBits(decodeState(shifted, { config: tiny, fingerprint: FP }).data, data)).toBe(true);
    expectRefusal(
      () => decodeState(blob, { config: tiny, fingerprint: FP }, { into: new Float32Array(3) }),
      'INVALID_ARGUMENT',
      /'into' has 3 floats/,
    );
  });

  test('encodes a state that is a view into a larger buffer', () => {
    const big = sampleState(floats + 10);
    const view = big.subarray(5, 5 + floats);
    const out = decodeState(encodeState({ config: tiny, fingerprint: FP, tokensConsumed: 1, data: view }), {
      config: tiny,
      fingerprint: FP,
    });
    expect(sameBits(out.data, view)).toBe(true);
  });

  test('size is L·(2C + H·N²)·4 plus the 76-byte overhead; 0.1B model', () => {
    const config01b: Rwkv7Config = {
      nLayer: 12,
      nEmbd: 768,
      nHead: 12,
      headSize: 64,
      vocabSize: 65536,
      dimFfn: 3072,
      dimDecayLora: 64,
      dimALora: 64,
      dimVLora: 32,
      dimGateLora: 128,
    };
    expect(STATE_OVERHEAD_BYTES).toBe(76);
    expect(STATE_OVERHEAD_BYTES).toBeLessThanOrEqual(128);
    expect(stateSizeBytes(config01b)).toBe(12 * (2 * 768 + 12 * 64 * 64) * 4 + 76);
    expect(stateSizeBytes(config01b)).toBe(2_433_100);
    expect(stateSizeBytes(config01b)).toBe(stateFloats(config01b) * 4 + 76);
    const blob = encodeState({
      config: config01b,
      fingerprint: FP,
      tokensConsumed: 7,
      data: new Float32Array(stateFloats(config01b)),
    });
    expect(blob.length).toBe(2_433_100);
    expect(STATE_HEADER_BYTES % 8).toBe(0); // payload stays aligned
  });

  test('readStateHeader peeks without the expected model', () => {
    const blob = encodeState({ config: tiny, fingerprint: FP, tokensConsumed: 42, data: sampleState() });
    expect(readStateHeader(blob)).toEqual({
      formatVersion: 1,
      config: tiny,
      fingerprint: FP,
      tokensConsumed: 42,
      payloadBytes: floats * 4,
    });
  });

  describe('refuses', () => {
    const good = () => encodeState({ config: tiny, fingerprint: FP, tokensConsumed: 9, data: sampleState() });
    const expected = { config: tiny, fingerprint: FP };

    test('wrong magic', () => {
      const blob = good();
      blob.set([0x50, 0x4b, 0x03, 0x04], 0); // a zip file
      expectRefusal(
        () => decodeState(blob, expected),
        'BAD_MAGIC',
        /magic is "PK\\u0003\\u0004", expected "GHST"/,
      );
    });

    test('unsupported version', () => {
      const blob = good();
      new DataView(blob.buffer).setUint16(4, 2, true);
      expectRefusal(
        () => decodeState(reseal(blob), expected),
        'UNSUPPORTED_VERSION',
        /version 2 is not supported/,
      );
    });

    test('a different model fingerprint, naming both', () => {
      const blob = encodeState({
        config: tiny,
        fingerprint: OTHER_FP,
        tokensConsumed: 9,
        data: sampleState(),
      });
      const e = refusal(() => decodeState(blob, expected));
      expect(e.code).toBe('FINGERPRINT_MISMATCH');
      expect(e.message).toContain(OTHER_FP);
      expect(e.message).toContain(FP);
    });

    test('config mismatch, naming the differing fields', () => {
      const other: StateDims = { nLayer: 2, nEmbd: 128, nHead: 4, headSize: 32 };
      const blob = encodeState({
        config: other,
        fingerprint: FP,
        tokensConsumed: 9,
        data: new Float32Array(2 * (256 + 4 * 32 * 32)),
      });
      expectRefusal(
        () => decodeState(blob, expected),
        'CONFIG_MISMATCH',
        /nHead=4 .*nHead=2.*differ: nHead, headSize/,
      );
    });

    test('truncated, too short for a header, or trailing data', () => {
      const blob = good();
      expectRefusal(
        () => decodeState(blob.subarray(0, blob.length - 1), expected),
        'BAD_LENGTH',
        /truncated/,
      );
      expectRefusal(() => decodeState(blob.subarray(0, 40), expected), 'BAD_LENGTH', /40 bytes.*take 76/);
      const longer = new Uint8Array(blob.length + 4);
      longer.set(blob);
      expectRefusal(() => decodeState(longer, expected), 'BAD_LENGTH', /trailing data/);
    });

    test('payload length inconsistent with the dimensions', () => {
      const blob = good();
      const view = new DataView(blob.buffer);
      // Claim one more layer: header stays self-consistent (length, CRC) but the payload is too small.
      view.setUint32(40, 3, true);
      expectRefusal(
        () => decodeState(reseal(blob), { config: { ...tiny, nLayer: 3 }, fingerprint: FP }),
        'BAD_LENGTH',
        /needs/,
      );
    });

    test('checksum mismatch (one flipped payload bit or header byte)', () => {
      const blob = good();
      blob[STATE_HEADER_BYTES + 1000] ^= 0x10;
      expectRefusal(
        () => decodeState(blob, expected),
        'CHECKSUM_MISMATCH',
        /corrupted: CRC-32 is 0x[0-9a-f]{8} but 0x[0-9a-f]{8}/,
      );
      const blob2 = good();
      blob2[20] ^= 1; // inside the fingerprint: reported as corruption, not as another model
      expectRefusal(() => decodeState(blob2, expected), 'CHECKSUM_MISMATCH', /corrupted/);
    });

    test('unknown dtype or flags', () => {
      const a = good();
      a[6] = 2;
      expectRefusal(() => decodeState(reseal(a), expected), 'UNSUPPORTED_DTYPE', /dtype code 2/);
      const b = good();
      b[7] = 1;
      expectRefusal(() => decodeState(reseal(b), expected), 'UNSUPPORTED_FLAGS', /flags 0x1/);
    });

    test('bad inputs to encode', () => {
      const data = sampleState();
      expectRefusal(
        () => encodeState({ config: tiny, fingerprint: 'xyz', tokensConsumed: 0, data }),
        'INVALID_ARGUMENT',
        /64 hex/,
      );
      expectRefusal(
        () => encodeState({ config: tiny, fingerprint: FP, tokensConsumed: -1, data }),
        'INVALID_ARGUMENT',
        /tokensConsumed/,
      );
      expectRefusal(
        () => encodeState({ config: tiny, fingerprint: FP, tokensConsumed: 0, data: data.subarray(1) }),
        'INVALID_ARGUMENT',
        /has 16895 floats .* needs 16896/,
      );
      expectRefusal(
        () => encodeState({ config: { ...tiny, nHead: 3 }, fingerprint: FP, tokensConsumed: 0, data }),
        'INVALID_ARGUMENT',
        /nHead·headSize/,
      );
    });
  });
});

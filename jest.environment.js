// Jest runs each test file in its own VM realm, whose typed-array constructors differ from the ones the
// onnxruntime-node addon sees, so `data instanceof Float32Array` fails on tensors the addon returns.
// Sharing the host realm's binary-data constructors with the test realm removes that mismatch.
const { TestEnvironment } = require('jest-environment-node');

const SHARED = [
  'ArrayBuffer',
  'SharedArrayBuffer',
  'DataView',
  'Buffer',
  'Int8Array',
  'Uint8Array',
  'Uint8ClampedArray',
  'Int16Array',
  'Uint16Array',
  'Int32Array',
  'Uint32Array',
  'Float32Array',
  'Float64Array',
  'BigInt64Array',
  'BigUint64Array',
];

class GooseherdEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) this.global[name] = globalThis[name];
  }
}

module.exports = GooseherdEnvironment;

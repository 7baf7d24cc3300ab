import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { bufferSource } from './byte-source.js';
import { CheckpointError } from './checkpoint-error.js';
import { PickleError, unpickle, type PickleValue } from './pickle-reader.js';
import { pickleStateDict } from './pickle-writer.js';
import { readPth, TORCH_ALLOWED_GLOBALS } from './pth-reader.js';
import { fixtureDir, FIXTURE_PTH, haveCheckpointFixtures } from './test-fixtures.js';
import { readZipDirectory, readZipEntry } from './zip-reader.js';

const opts = { allowedGlobals: TORCH_ALLOWED_GLOBALS };
const p = (...parts: (number[] | string)[]): Uint8Array =>
  Buffer.concat(parts.map((x) => (typeof x === 'string' ? Buffer.from(x, 'latin1') : Buffer.from(x))));

describe('unpickle', () => {
  it('decodes scalars, strings, bytes and containers', () => {
    const data = p(
      [0x80, 2, 0x5d, 0x71, 0], // PROTO 2, EMPTY_LIST, BINPUT 0
      [0x28], // MARK
      [0x4a, 0xfe, 0xff, 0xff, 0xff], // BININT -2
      [0x4d, 0x34, 0x12], // BININT2 0x1234
      [0x8a, 2, 0x00, 0x80], // LONG1 -32768
      [0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1], // LONG1 2^64 → bigint
      [0x47, 0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18], // BINFLOAT pi
      [0x8c, 3],
      'h\xc3\xa9', // SHORT_BINUNICODE 'hé'
      [0x43, 2, 0xde, 0xad], // SHORT_BINBYTES
      [0x4e, 0x88, 0x89], // NONE, NEWTRUE, NEWFALSE
      [0x4b, 1, 0x4b, 2, 0x86], // (1, 2)
      [0x7d, 0x8c, 1],
      'k',
      [0x4b, 7, 0x73], // {'k': 7}
      [0x68, 0], // BINGET 0: the list itself
      [0x65, 0x2e], // APPENDS, STOP
    );
    const v = unpickle(data, opts) as PickleValue[];
    expect(v.slice(0, 5)).toEqual([-2, 0x1234, -32768, 2n ** 64n, Math.PI]);
    expect(v[5]).toBe('hé');
    expect(v[6]).toEqual(new Uint8Array([0xde, 0xad]));
    expect(v.slice(7, 11)).toEqual([null, true, false, [1, 2]]);
    expect(v[11]).toEqual(new Map([['k', 7]]));
    expect(v[12]).toBe(v);
  });

  it('represents globals and calls as tagged data, never resolving them', () => {
    const data = p(
      [0x80, 4, 0x8c, 12],
      'torch._utils',
      [0x8c, 18],
      '_rebuild_parameter',
      [0x93, 0x94, 0x4b, 5, 0x85, 0x52, 0x2e],
    );
    expect(unpickle(data, opts)).toEqual({
      kind: 'call',
      callee: { kind: 'global', module: 'torch._utils', name: '_rebuild_parameter' },
      args: [5],
    });
  });

  const failures: [string, Uint8Array, RegExp][] = [
    ['an unknown opcode', p([0x80, 2, 0xff]), /unsupported opcode 0xff/],
    [
      'a global outside the allow-list',
      p([0x80, 2], 'cos\nsystem\n', [0x2e]),
      /global os\.system is not allowed/,
    ],
    [
      'a huge string length',
      p([0x80, 2, 0x58, 0xff, 0xff, 0xff, 0x7f]),
      /needs 2147483647 bytes but only 0 remain/,
    ],
    ['a missing STOP', p([0x80, 2, 0x4e]), /without STOP/],
    ['a missing memo entry', p([0x80, 2, 0x68, 9]), /memo entry 9 is missing/],
    ['a stack underflow', p([0x80, 2, 0x85]), /stack underflow/],
    ['an unterminated GLOBAL', p([0x80, 2], 'ctorch'), /unterminated GLOBAL/],
    ['SETITEM on a list', p([0x80, 2, 0x5d, 0x4b, 1, 0x4b, 2, 0x73]), /not a dict/],
    ['a huge LONG4', p([0x80, 2, 0x8b, 0, 0, 0, 1]), /too large|needs/],
    ['a future protocol', p([0x80, 6]), /protocol above 5/],
  ];
  it.each(failures)('rejects %s with a PickleError', (_what, data, msg) => {
    expect(() => unpickle(data, opts)).toThrow(PickleError);
    expect(() => unpickle(data, opts)).toThrow(msg);
  });
});

describe('readPth on zips written by Python pickle + zipfile (test-data/make-torch-like-samples.py)', () => {
  const { expected, samples } = JSON.parse(
    readFileSync(path.join(__dirname, 'test-data/torch-like-samples.json'), 'utf8'),
  ) as {
    expected: Record<string, { dtype: string; shape: number[]; hex: string }>;
    samples: Record<string, string>;
  };
  it.each(Object.keys(samples))('%s', async (name) => {
    const tensors = await readPth(bufferSource(Buffer.from(samples[name], 'base64'), name));
    expect([...tensors.keys()]).toEqual(Object.keys(expected));
    for (const [k, e] of Object.entries(expected)) {
      const t = tensors.get(k)!;
      expect({ k, dtype: t.dtype, shape: t.shape, hex: Buffer.from(t.bytes).toString('hex') }).toEqual({
        k,
        ...e,
      });
    }
  });
});

describe('readPth tensor checks', () => {
  /** A one-tensor .pth in memory, with a hook to edit the pickle. */
  async function pthWith(editPickle: (pkl: Buffer) => Buffer, storageBytes = 12): Promise<Uint8Array> {
    const { ZipWriter } = await import('./zip-writer.js');
    const chunks: Buffer[] = [];
    const sink = {
      offset: 0,
      async write(b: Uint8Array) {
        chunks.push(Buffer.from(b));
        sink.offset += b.length;
      },
    };
    const zip = new ZipWriter(sink);
    const pkl = pickleStateDict([{ name: 'w', dtype: 'bf16', shape: [2, 3], storageKey: '0' }]);
    await zip.add('t/data.pkl', editPickle(pkl));
    await zip.add('t/data/0', Buffer.alloc(storageBytes));
    await zip.finish();
    return Buffer.concat(chunks);
  }
  const load = async (bytes: Uint8Array) => readPth(bufferSource(bytes, 'edited.pth'));
  const swap = (from: string, to: string) => (pkl: Buffer) => {
    const s = pkl.toString('latin1');
    expect(s).toContain(from);
    return Buffer.from(s.replace(from, to), 'latin1');
  };

  it('reads the unedited file', async () => {
    const t = (await load(await pthWith((x) => x))).get('w')!;
    expect(t.shape).toEqual([2, 3]);
    expect(t.bytes.length).toBe(12);
  });

  it('rejects a non-contiguous tensor', async () => {
    // stride (3, 1) → (1, 2): a transposed view.
    const bytes = await pthWith(swap('K\x03K\x01\x86', 'K\x01K\x02\x86'));
    await expect(load(bytes)).rejects.toThrow(
      /edited\.pth: tensor w is not contiguous \(shape \[2,3\], stride \[1,2\]\)/,
    );
  });

  it('rejects an unsupported storage dtype, naming the tensor', async () => {
    const bytes = await pthWith(swap('torch\nBFloat16Storage\n', 'torch\nDoubleStorage\n'));
    await expect(load(bytes)).rejects.toThrow(/tensor w has unsupported dtype torch\.DoubleStorage/);
  });

  it('rejects a storage whose size disagrees with the pickle', async () => {
    await expect(load(await pthWith((x) => x, 10))).rejects.toThrow(
      /storage t\/data\/0 of tensor w has 10 bytes, the pickle says 12/,
    );
  });

  it('rejects a tensor running past its storage', async () => {
    const bytes = await pthWith(swap('QK\x00', 'QK\x01')); // storage offset 0 → 1
    await expect(load(bytes)).rejects.toThrow(/tensor w \(offset 1, shape \[2,3\]\) runs past its storage/);
  });

  it('rejects a pickle that is not a dict of tensors', async () => {
    await expect(load(await pthWith(() => Buffer.from([0x80, 2, 0x4b, 1, 0x2e])))).rejects.toThrow(
      CheckpointError,
    );
    await expect(load(await pthWith(() => Buffer.from([0x80, 2, 0x4b, 1, 0x2e])))).rejects.toThrow(
      /pickle root is not a dict/,
    );
  });
});

const dir = fixtureDir();
if (haveCheckpointFixtures()) {
  it('pickleStateDict reproduces the data.pkl torch 1.13 wrote for the fixture, byte for byte', async () => {
    const file = readFileSync(path.join(dir, FIXTURE_PTH));
    const src = bufferSource(file, FIXTURE_PTH);
    const entries = await readZipDirectory(src);
    const original = await readZipEntry(
      src,
      entries.find((e) => e.name.endsWith('/data.pkl'))!,
    );
    const tensors = await readPth(src);
    const ours = pickleStateDict(
      [...tensors].map(([name, t], i) => ({ name, dtype: t.dtype, shape: t.shape, storageKey: String(i) })),
    );
    expect(Buffer.from(ours).equals(Buffer.from(original))).toBe(true);
  });
} else {
  it(`pickle byte-compatibility test needs the fixtures in ${dir}`, () =>
    console.warn(`skipped: fixtures not found in ${dir}`));
}

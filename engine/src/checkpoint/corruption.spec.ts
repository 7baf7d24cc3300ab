import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import {
  bufferSource,
  CheckpointError,
  loadCheckpoint,
  randomCheckpoint,
  writePth,
  writeSafetensors,
} from './index.js';
import {
  fixtureDir,
  FIXTURE_PTH,
  FIXTURE_SAFETENSORS,
  haveCheckpointFixtures,
  scratchDir,
} from './test-fixtures.js';
import { readZipDirectory } from './zip-reader.js';

/** Expects loading `file` to fail with a CheckpointError whose message names the file (and `detail`). */
async function expectFailure(file: string, detail?: string | RegExp): Promise<CheckpointError> {
  let caught: unknown;
  try {
    await loadCheckpoint(file);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(CheckpointError);
  const e = caught as CheckpointError;
  expect(e.message.startsWith(`${file}: `)).toBe(true);
  expect(e.filePath).toBe(file);
  if (detail) expect(e.message).toMatch(detail);
  return e;
}

function flipped(bytes: Buffer, at: number, mask = 0x01): Buffer {
  const copy = Buffer.from(bytes);
  copy[at] ^= mask;
  return copy;
}

let tmp: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir: tmp, cleanup } = await scratchDir('corrupt')));
afterAll(() => cleanup());

describe('files that are not checkpoints', () => {
  const cases: [string, Buffer | string, RegExp][] = [
    ['empty.pth', Buffer.alloc(0), /only 0 bytes: not a checkpoint/],
    ['tiny.safetensors', Buffer.from([1, 2, 3]), /not a checkpoint/],
    [
      'image.pth',
      Buffer.concat([Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'), Buffer.alloc(64)]),
      /not a checkpoint.*89 50 4e 47/,
    ],
    ['notes.safetensors', 'This is a text file, not a model.\n'.repeat(20), /not a checkpoint/],
    ['config.safetensors', JSON.stringify({ n_layer: 2 }).padEnd(64), /not a checkpoint/],
    ['legacy.pth', Buffer.from('80028a0a6ce8a9fc9c46f920000000000000', 'hex'), /legacy .* not supported/],
    ['half-zip.pth', Buffer.from('504b0304140000000000', 'hex'), /no end-of-central-directory/],
  ];
  it.each(cases)('%s gives a CheckpointError naming the file', async (name, content, detail) => {
    const file = path.join(tmp, name);
    await writeFile(file, content);
    await expectFailure(file, detail);
  });

  it('a zip without data.pkl', async () => {
    const file = path.join(tmp, 'other.zip');
    // A valid archive made by our own writer, holding something else.
    const ckpt = randomCheckpoint({ nLayer: 1, nEmbd: 64, vocabSize: 16 }, 1);
    await writePth(ckpt, file, { topFolder: 'x' });
    const bytes = readFileSync(file);
    // Rename x/data.pkl → x/data.pkX in both the local header and the directory.
    const renamed = Buffer.from(bytes.toString('latin1').replaceAll('x/data.pkl', 'x/data.pkX'), 'latin1');
    await writeFile(file, renamed);
    await expectFailure(file, /no <folder>\/data\.pkl/);
  });

  it('a missing file and a directory', async () => {
    await expectFailure(path.join(tmp, 'does-not-exist.pth'), /cannot open/);
    const d = path.join(tmp, 'a-folder.pth');
    await mkdir(d, { recursive: true });
    await expectFailure(d, /not a regular file/);
  });

  it('a named pipe, without blocking on it', async () => {
    if (process.platform === 'win32') return console.warn('no mkfifo on Windows: FIFO case not run');
    const fifo = path.join(tmp, 'pipe.safetensors');
    execFileSync('mkfifo', [fifo]);
    await expectFailure(fifo, /not a regular file/);
  });
});

const dir = fixtureDir();
if (!haveCheckpointFixtures()) {
  it(`damaged-fixture tests need the checkpoint fixtures in ${dir}`, () => {
    console.warn(`skipped: ${path.join(dir, FIXTURE_PTH)} not found`);
  });
} else {
  describe('damaged copies of the .pth fixture', () => {
    const original = readFileSync(path.join(dir, FIXTURE_PTH));

    it.each([
      0,
      7,
      100,
      5_000,
      20_000_000,
      original.length - 1000,
      original.length - 10,
      original.length - 1,
    ])('truncated to %i bytes', async (n) => {
      const file = path.join(tmp, `trunc-${n}.pth`);
      await writeFile(file, original.subarray(0, n));
      await expectFailure(file, n < 8 ? /not a checkpoint/ : /end-of-central-directory|truncated/);
    });

    it('bit flips in the zip directory, the pickle and a storage are all caught', async () => {
      const entries = await readZipDirectory(bufferSource(original, 'fixture'));
      const eocd = original.length - 22;
      const cdOffset = original.readUInt32LE(eocd + 16);
      const entryAt = (name: string) => {
        // Walk the central directory to the record of `name`.
        let p = cdOffset;
        for (;;) {
          const len = original.readUInt16LE(p + 28);
          if (original.toString('latin1', p + 46, p + 46 + len) === name) return p;
          p += 46 + len + original.readUInt16LE(p + 30) + original.readUInt16LE(p + 32);
        }
      };
      const dataStart = (name: string) => {
        const e = entries.find((x) => x.name === name)!;
        const o = e.localHeaderOffset;
        return o + 30 + original.readUInt16LE(o + 26) + original.readUInt16LE(o + 28);
      };
      const storage1 = entryAt('rwkv7-tiny-A/data/1');
      const flips: [string, number, RegExp][] = [
        ['EOCD directory offset', eocd + 16, /records disagree/],
        [
          'ZIP64 directory offset',
          original.lastIndexOf(Buffer.from('PK\x06\x06', 'latin1')) + 48,
          /records disagree/,
        ],
        ['ZIP64 locator', eocd - 20 + 8, /ZIP64|truncated|signature/],
        ['directory entry signature', storage1, /central directory entry \d+ is damaged/],
        ['directory CRC field', storage1 + 16, /CRC-32 mismatch in rwkv7-tiny-A\/data\/1/],
        ['directory size field', storage1 + 20, /compressed size|has \d+ bytes|overlaps/],
        ['directory local-header offset', storage1 + 42 + 1, /local header|overlaps/],
        [
          'directory entry name',
          storage1 + 46 + 'rwkv7-tiny-A/da'.length,
          /missing from the zip|local header name/,
        ],
        [
          'pickle opcode',
          dataStart('rwkv7-tiny-A/data.pkl') + 2,
          /CRC-32 mismatch in rwkv7-tiny-A\/data\.pkl/,
        ],
        [
          'pickle string',
          dataStart('rwkv7-tiny-A/data.pkl') + 10,
          /CRC-32 mismatch in rwkv7-tiny-A\/data\.pkl/,
        ],
        [
          'storage of emb.weight',
          dataStart('rwkv7-tiny-A/data/0') + 12345,
          /CRC-32 mismatch in rwkv7-tiny-A\/data\/0/,
        ],
        [
          'storage of head.weight',
          dataStart('rwkv7-tiny-A/data/71') + 999,
          /CRC-32 mismatch in rwkv7-tiny-A\/data\/71/,
        ],
      ];
      const outcomes: string[] = [];
      for (const [what, at, detail] of flips) {
        const file = path.join(tmp, `flip-${what.replace(/\W+/g, '-')}.pth`);
        await writeFile(file, flipped(original, at));
        const msg = await loadCheckpoint(file).then(
          () => 'loaded',
          (e: unknown) =>
            e instanceof CheckpointError && e.filePath === file ? e.detail : `wrong error ${String(e)}`,
        );
        outcomes.push(`${what}: ${detail.test(msg) ? 'ok' : msg}`);
      }
      expect(outcomes).toEqual(flips.map(([what]) => `${what}: ok`));
    });
  });

  describe('damaged copies of the .safetensors fixture', () => {
    const original = readFileSync(path.join(dir, FIXTURE_SAFETENSORS));
    const headerLen = Number(original.readBigUInt64LE(0));
    const header = original.toString('latin1', 8, 8 + headerLen);

    it.each([0, 4, 8, 9, 100, headerLen + 8, 20_000_000, original.length - 1])(
      'truncated to %i bytes',
      async (n) => {
        const file = path.join(tmp, `trunc-${n}.safetensors`);
        await writeFile(file, original.subarray(0, n));
        await expectFailure(file, n < 9 ? /not a checkpoint/ : /truncated|does not fit|lie outside/);
      },
    );

    it('bit flips in the header are caught', async () => {
      const at = (s: string) => 8 + header.indexOf(s);
      const flips: [string, number, number, RegExp][] = [
        ['length, low byte', 0, 0x01, /bad header JSON/],
        ['length, high byte', 7, 0x10, /header length \d+ does not fit/],
        ['opening brace', 8, 0x01, /not a checkpoint|bad header JSON/],
        [
          'a data offset digit',
          at('"data_offsets":[16777216') + 17,
          0x01,
          /lie outside|needs \d+ bytes but data_offsets span|overlap/,
        ],
        ['a dtype', at('"dtype":"BF16"') + 11, 0x04, /unsupported dtype "BF56"|unsupported dtype/],
        ['a shape digit', at('"shape":[65536,128]') + 9, 0x01, /shape .* needs \d+ bytes/],
        ['a tensor name', at('"emb.weight"') + 3, 0x01, /missing tensor emb\.weight/],
        ['the padding', 8 + headerLen - 1, 0x01, /bad header JSON/],
      ];
      for (const [what, pos, mask, detail] of flips) {
        const file = path.join(tmp, `flip-${what.replace(/\W+/g, '-')}.safetensors`);
        await writeFile(file, flipped(original, pos, mask));
        await expectFailure(file, detail);
      }
    });

    it('an unsupported dtype is named with its tensor', async () => {
      const file = path.join(tmp, 'f64.safetensors');
      // Same header length: the edit is 2 characters shorter, trailing spaces make up for it.
      const h = `${header.replace('{"dtype":"BF16","shape":[128]', '{"dtype":"F64","shape":[64]')}  `;
      await writeFile(
        file,
        Buffer.concat([original.subarray(0, 8), Buffer.from(h, 'latin1'), original.subarray(8 + headerLen)]),
      );
      await expectFailure(file, /tensor blocks\.0\.ln0\.weight has unsupported dtype "F64"/);
    });
  });
}

describe('random damage never escapes as anything but a CheckpointError', () => {
  // Small generated files so hundreds of variants stay fast; any outcome but "loads" or
  // "CheckpointError naming the file" (RangeError, hang, OOM) fails the test.
  const ckpt = randomCheckpoint({ nLayer: 2, nEmbd: 64, vocabSize: 256, dimFfn: 128 }, 3);
  let seed = 12345;
  const rand = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };

  it.each(['pth', 'safetensors', 'zip64.pth', 'deflate.pth'])(
    '%s: 300 random bit flips and truncations',
    async (kind) => {
      const file = path.join(tmp, `fuzz-src.${kind}`);
      if (kind === 'safetensors') await writeSafetensors(ckpt, file);
      else await writePth(ckpt, file, { forceZip64: kind === 'zip64.pth', compress: kind === 'deflate.pth' });
      const original = readFileSync(file);
      const target = path.join(tmp, `fuzz.${kind}`);
      let loaded = 0;
      for (let i = 0; i < 300; i++) {
        const damaged =
          i % 3 === 0
            ? original.subarray(0, rand(original.length))
            : flipped(original, rand(original.length), 1 << rand(8));
        await writeFile(target, damaged);
        try {
          await loadCheckpoint(target);
          loaded++;
        } catch (err) {
          expect(err).toBeInstanceOf(CheckpointError);
          expect((err as CheckpointError).message.startsWith(`${target}: `)).toBe(true);
        }
      }
      // Only safetensors (no checksums) and harmless zip fields (times, attributes) may survive a flip.
      if (kind !== 'safetensors') expect(loaded).toBeLessThan(30);
    },
  );
});

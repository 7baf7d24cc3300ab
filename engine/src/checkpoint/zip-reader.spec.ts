import { bufferSource } from './byte-source.js';
import { CheckpointError } from './checkpoint-error.js';
import { crc32 } from './crc32.js';
import { readZipDirectory, readZipEntry } from './zip-reader.js';
import { ZipWriter, type ByteSink } from './zip-writer.js';

describe('crc32', () => {
  it('matches the standard check values', () => {
    expect(crc32(new Uint8Array(0))).toBe(0);
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(crc32(Buffer.from('The quick brown fox jumps over the lazy dog'))).toBe(0x414fa339);
  });

  it('gives the same result in one pass or in chunks of any alignment', () => {
    const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 37 + 11) & 0xff));
    const whole = crc32(data);
    for (const cut of [1, 7, 8, 9, 500, 999])
      expect(crc32(data.subarray(cut), crc32(data.subarray(0, cut)))).toBe(whole);
  });
});

/** Builds a zip in memory with our writer. */
async function makeZip(
  entries: [string, string][],
  opts: { compress?: boolean; forceZip64?: boolean } = {},
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const sink: ByteSink & { offset: number } = {
    offset: 0,
    async write(b) {
      chunks.push(Buffer.from(b));
      sink.offset += b.length;
    },
  };
  const zip = new ZipWriter(sink, { forceZip64: opts.forceZip64 });
  for (const [name, text] of entries) await zip.add(name, Buffer.from(text), opts.compress);
  await zip.finish();
  return Buffer.concat(chunks);
}

async function readAll(bytes: Uint8Array): Promise<Record<string, string>> {
  const src = bufferSource(bytes, 'test.zip');
  const out: Record<string, string> = {};
  for (const e of await readZipDirectory(src))
    out[e.name] = Buffer.from(await readZipEntry(src, e)).toString();
  return out;
}

describe('zip reader', () => {
  const entries: [string, string][] = [
    ['a/data.pkl', 'pickle'],
    ['a/data/0', 'x'.repeat(5000)],
    ['a/version', '3\n'],
  ];
  const expected = Object.fromEntries(entries);

  it.each([
    ['stored', {}],
    ['deflated', { compress: true }],
    ['ZIP64', { forceZip64: true }],
    ['ZIP64 + deflated', { forceZip64: true, compress: true }],
  ])('reads %s archives', async (_label, opts) => {
    expect(await readAll(await makeZip(entries, opts))).toEqual(expected);
  });

  it('aligns stored data to 64 bytes like torch', async () => {
    const bytes = await makeZip(entries);
    const src = bufferSource(bytes, 'test.zip');
    for (const e of await readZipDirectory(src)) {
      const o = e.localHeaderOffset;
      expect((o + 30 + bytes.readUInt16LE(o + 26) + bytes.readUInt16LE(o + 28)) % 64).toBe(0);
    }
  });

  it('finds the directory behind an archive comment', async () => {
    const bytes = await makeZip(entries);
    const comment = Buffer.from('PK\x05\x06 a comment that even contains an EOCD signature');
    const withComment = Buffer.concat([bytes, comment]);
    withComment.writeUInt16LE(comment.length, bytes.length - 2);
    expect(await readAll(withComment)).toEqual(expected);
  });

  /** Edits a field in both the local header and the central-directory record of entry 0. */
  async function edited(
    localAt: number,
    centralAt: number,
    write: (b: Buffer, at: number) => void,
  ): Promise<Buffer> {
    const bytes = Buffer.from(await makeZip(entries));
    const cd = bytes.readUInt32LE(bytes.length - 22 + 16);
    write(bytes, localAt);
    write(bytes, cd + centralAt);
    return bytes;
  }

  it.each<[string, () => Promise<Buffer>, RegExp]>([
    [
      'an unsupported compression method',
      () => edited(8, 10, (b, at) => b.writeUInt16LE(12, at)),
      /unsupported compression method 12/,
    ],
    ['an encrypted entry', () => edited(6, 8, (b, at) => b.writeUInt16LE(0x0801, at)), /is encrypted/],
    [
      'a CRC mismatch',
      () => edited(14, 16, (b, at) => b.writeUInt32LE(0x12345678, at)),
      /CRC-32 mismatch in a\/data\.pkl/,
    ],
    [
      'a local name that differs from the directory',
      async () => {
        const b = await makeZip(entries);
        b[30] = 0x62; // local header of entry 0: a/data.pkl → b/data.pkl
        return b;
      },
      /local header name does not match directory entry a\/data\.pkl/,
    ],
    [
      'an implausible deflated size',
      () =>
        edited(8, 10, (b, at) => b.writeUInt16LE(8, at)).then((b) => {
          const cd = b.readUInt32LE(b.length - 22 + 16);
          b.writeUInt32LE(0x7fffffff, cd + 24);
          return b;
        }),
      /implausible size/,
    ],
  ])('reports %s as a CheckpointError', async (_label, make, msg) => {
    const bytes = await make();
    const read = readAll(bytes);
    await expect(read).rejects.toThrow(CheckpointError);
    await expect(readAll(bytes)).rejects.toThrow(msg);
  });
});

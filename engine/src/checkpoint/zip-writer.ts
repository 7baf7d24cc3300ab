import { deflateRawSync } from 'node:zlib';
import { crc32 } from './crc32.js';

/**
 * Writes ZIP archives like PyTorch's serializer: entries stored (or deflated, for tests), data aligned
 * to 64 bytes via an `FB` padding extra field, ZIP64 records when sizes/offsets need them (or always,
 * when asked, so the ZIP64 read path can be tested with small files).
 */
/** Where the archive goes: a FileWriter, or anything that appends bytes and knows its length. */
export interface ByteSink {
  readonly offset: number;
  write(bytes: Uint8Array): Promise<void>;
}

export interface ZipWriterOptions {
  /** Always write ZIP64 fields and records. Default: only when needed. */
  readonly forceZip64?: boolean;
  /** Data alignment in bytes (torch uses 64). */
  readonly align?: number;
}

interface Written {
  name: Uint8Array;
  method: number;
  crc: number;
  compressed: number;
  uncompressed: number;
  offset: number;
}

const U32_MAX = 0xffffffff;

export class ZipWriter {
  private readonly entries: Written[] = [];

  constructor(
    private readonly out: ByteSink,
    private readonly options: ZipWriterOptions = {},
  ) {}

  async add(name: string, data: Uint8Array, compress = false): Promise<void> {
    const nameBytes = Buffer.from(name, 'utf8');
    const payload = compress ? deflateRawSync(data) : data;
    const offset = this.out.offset;
    const zip64 = this.options.forceZip64 || data.length >= U32_MAX || payload.length >= U32_MAX;
    const z64Len = zip64 ? 20 : 0;
    const align = this.options.align ?? 64;
    const base = offset + 30 + nameBytes.length + z64Len;
    const pad = (align - ((base + 4) % align)) % align; // 4: the FB field's own header
    const extra = Buffer.alloc(z64Len + 4 + pad);
    if (zip64) {
      extra.writeUInt16LE(0x0001, 0);
      extra.writeUInt16LE(16, 2);
      extra.writeBigUInt64LE(BigInt(data.length), 4);
      extra.writeBigUInt64LE(BigInt(payload.length), 12);
    }
    extra.writeUInt16LE(0x4246, z64Len); // "FB": torch's padding field
    extra.writeUInt16LE(pad, z64Len + 2);
    extra.fill(0x5a, z64Len + 4); // 'Z', as torch pads
    const crc = crc32(data);
    const h = Buffer.alloc(30);
    h.writeUInt32LE(0x04034b50, 0);
    h.writeUInt16LE(zip64 ? 45 : 20, 4);
    h.writeUInt16LE(0x0800, 6); // UTF-8 names
    h.writeUInt16LE(compress ? 8 : 0, 8);
    h.writeUInt32LE(0, 10); // time/date: zero, like torch, so output is reproducible
    h.writeUInt32LE(crc, 14);
    h.writeUInt32LE(zip64 ? U32_MAX : payload.length, 18);
    h.writeUInt32LE(zip64 ? U32_MAX : data.length, 22);
    h.writeUInt16LE(nameBytes.length, 26);
    h.writeUInt16LE(extra.length, 28);
    await this.out.write(h);
    await this.out.write(nameBytes);
    await this.out.write(extra);
    await this.out.write(payload);
    this.entries.push({
      name: nameBytes,
      method: compress ? 8 : 0,
      crc,
      compressed: payload.length,
      uncompressed: data.length,
      offset,
    });
  }

  async finish(): Promise<void> {
    const cdOffset = this.out.offset;
    const force = this.options.forceZip64 ?? false;
    for (const e of this.entries) {
      const big = {
        u: force || e.uncompressed >= U32_MAX,
        c: force || e.compressed >= U32_MAX,
        o: force || e.offset >= U32_MAX,
      };
      const fields = [big.u ? e.uncompressed : -1, big.c ? e.compressed : -1, big.o ? e.offset : -1].filter(
        (v) => v >= 0,
      );
      const extra = Buffer.alloc(fields.length ? 4 + 8 * fields.length : 0);
      if (fields.length) {
        extra.writeUInt16LE(0x0001, 0);
        extra.writeUInt16LE(8 * fields.length, 2);
        fields.forEach((v, i) => extra.writeBigUInt64LE(BigInt(v), 4 + 8 * i));
      }
      const h = Buffer.alloc(46);
      h.writeUInt32LE(0x02014b50, 0);
      h.writeUInt16LE(fields.length ? 45 : 20, 4);
      h.writeUInt16LE(fields.length ? 45 : 20, 6);
      h.writeUInt16LE(0x0800, 8);
      h.writeUInt16LE(e.method, 10);
      h.writeUInt32LE(e.crc, 16);
      h.writeUInt32LE(big.c ? U32_MAX : e.compressed, 20);
      h.writeUInt32LE(big.u ? U32_MAX : e.uncompressed, 24);
      h.writeUInt16LE(e.name.length, 28);
      h.writeUInt16LE(extra.length, 30);
      h.writeUInt32LE(big.o ? U32_MAX : e.offset, 42);
      await this.out.write(h);
      await this.out.write(e.name);
      await this.out.write(extra);
    }
    const cdSize = this.out.offset - cdOffset;
    const count = this.entries.length;
    const zip64 =
      force ||
      count >= 0xffff ||
      cdOffset >= U32_MAX ||
      cdSize >= U32_MAX ||
      this.entries.some((e) => e.offset >= U32_MAX);
    if (zip64) {
      const rec64At = this.out.offset;
      const r = Buffer.alloc(56 + 20);
      r.writeUInt32LE(0x06064b50, 0);
      r.writeBigUInt64LE(44n, 4); // size of the rest of this record
      r.writeUInt16LE(45, 12);
      r.writeUInt16LE(45, 14);
      r.writeBigUInt64LE(BigInt(count), 24);
      r.writeBigUInt64LE(BigInt(count), 32);
      r.writeBigUInt64LE(BigInt(cdSize), 40);
      r.writeBigUInt64LE(BigInt(cdOffset), 48);
      r.writeUInt32LE(0x07064b50, 56); // locator
      r.writeBigUInt64LE(BigInt(rec64At), 64);
      r.writeUInt32LE(1, 72);
      await this.out.write(r);
    }
    const eocd = Buffer.alloc(22);
    eocd.writeUInt32LE(0x06054b50, 0);
    eocd.writeUInt16LE(zip64 ? 0xffff : count, 8);
    eocd.writeUInt16LE(zip64 ? 0xffff : count, 10);
    eocd.writeUInt32LE(zip64 ? U32_MAX : cdSize, 12);
    eocd.writeUInt32LE(zip64 ? U32_MAX : cdOffset, 16);
    await this.out.write(eocd);
  }
}

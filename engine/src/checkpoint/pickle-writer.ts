import type { StoredDType } from '../model/tensor.js';

/**
 * Writes the protocol-2 pickle `torch.save` produces for a plain dict name → tensor:
 * `{name: _rebuild_tensor_v2(persid(('storage', <Dtype>Storage, key, 'cpu', numel)), offset, size,
 * stride, False, OrderedDict())}`. Globals and repeated strings are memoised as the Python pickler does.
 */
export interface PickledTensor {
  readonly name: string;
  readonly dtype: StoredDType;
  readonly shape: readonly number[];
  /** Storage record name under `data/`. */
  readonly storageKey: string;
}

const STORAGE_CLASS: Record<StoredDType, string> = {
  bf16: 'BFloat16Storage',
  f16: 'HalfStorage',
  f32: 'FloatStorage',
};
/** The Python pickler batches SETITEMS in groups of 1000. */
const BATCH = 1000;

class PickleBuilder {
  private readonly parts: Buffer[] = [];
  private readonly memo = new Map<string, number>();

  op(...bytes: number[]): void {
    this.parts.push(Buffer.from(bytes));
  }

  int(v: number): void {
    if (Number.isInteger(v) && v >= 0 && v < 0x100) this.op(0x4b, v);
    else if (Number.isInteger(v) && v >= 0 && v < 0x10000) this.op(0x4d, v & 0xff, v >> 8);
    else if (Number.isInteger(v) && v >= -0x80000000 && v < 0x80000000) {
      const b = Buffer.alloc(5);
      b[0] = 0x4a;
      b.writeInt32LE(v, 1);
      this.parts.push(b);
    } else {
      // LONG1: minimal little-endian two's complement.
      const bytes: number[] = [];
      let x = BigInt(v);
      do {
        bytes.push(Number(x & 0xffn));
        x >>= 8n;
      } while (
        !(x === 0n && (bytes[bytes.length - 1] & 0x80) === 0) &&
        !(x === -1n && (bytes[bytes.length - 1] & 0x80) !== 0)
      );
      this.op(0x8a, bytes.length, ...bytes);
    }
  }

  str(s: string): void {
    const b = Buffer.from(s, 'utf8');
    const h = Buffer.alloc(5);
    h[0] = 0x58; // BINUNICODE
    h.writeUInt32LE(b.length, 1);
    this.parts.push(h, b);
  }

  /** Pushes a value built by `emit`, memoised under `key` so later uses are a BINGET. */
  memoised(key: string, emit: () => void): void {
    const idx = this.memo.get(key);
    if (idx !== undefined) {
      this.get(idx);
      return;
    }
    emit();
    this.memo.set(key, this.put());
  }

  private next = 0;

  /** Memoises the top of stack (as the pickler does for every container and string); returns its index. */
  put(): number {
    const idx = this.next++;
    if (idx < 0x100) this.op(0x71, idx);
    else {
      const b = Buffer.alloc(5);
      b[0] = 0x72;
      b.writeUInt32LE(idx, 1);
      this.parts.push(b);
    }
    return idx;
  }

  private get(idx: number): void {
    if (idx < 0x100) this.op(0x68, idx);
    else {
      const b = Buffer.alloc(5);
      b[0] = 0x6a;
      b.writeUInt32LE(idx, 1);
      this.parts.push(b);
    }
  }

  global(module: string, name: string): void {
    this.memoised(`global:${module}.${name}`, () =>
      this.parts.push(Buffer.from(`c${module}\n${name}\n`, 'latin1')),
    );
  }

  tuple(values: readonly number[]): void {
    if (values.length === 0) this.op(0x29);
    else if (values.length <= 3) {
      values.forEach((v) => this.int(v));
      this.op(0x84 + values.length); // TUPLE1..3
    } else {
      this.op(0x28);
      values.forEach((v) => this.int(v));
      this.op(0x74);
    }
    this.put();
  }

  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

export function pickleStateDict(tensors: readonly PickledTensor[]): Buffer {
  const p = new PickleBuilder();
  p.op(0x80, 2); // PROTO 2
  p.op(0x7d); // EMPTY_DICT
  p.put();
  for (let start = 0; start < tensors.length; start += BATCH) {
    p.op(0x28); // MARK
    for (const t of tensors.slice(start, start + BATCH)) {
      const n = t.shape.reduce((a, b) => a * b, 1);
      const stride = t.shape.map((_, i) => t.shape.slice(i + 1).reduce((a, b) => a * b, 1));
      p.str(t.name);
      p.put();
      p.global('torch._utils', '_rebuild_tensor_v2');
      p.op(0x28); // MARK: _rebuild_tensor_v2 args
      p.op(0x28); // MARK: persistent id tuple
      p.memoised('str:storage', () => p.str('storage'));
      p.global('torch', STORAGE_CLASS[t.dtype]);
      p.str(t.storageKey);
      p.put();
      p.memoised('str:cpu', () => p.str('cpu'));
      p.int(n);
      p.op(0x74); // TUPLE
      p.put();
      p.op(0x51); // BINPERSID
      p.int(0); // storage offset
      p.tuple(t.shape);
      p.tuple(stride);
      p.op(0x89); // requires_grad = False
      p.global('collections', 'OrderedDict');
      p.op(0x29, 0x52); // EMPTY_TUPLE, REDUCE: backward hooks
      p.put();
      p.op(0x74); // TUPLE
      p.put();
      p.op(0x52); // REDUCE
      p.put();
    }
    p.op(0x75); // SETITEMS
  }
  p.op(0x2e); // STOP
  return p.bytes();
}

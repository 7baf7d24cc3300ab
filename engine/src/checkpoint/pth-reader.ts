import type { StoredDType, StoredTensor } from '../model/tensor.js';
import { bytesPerElement, numel } from '../model/tensor.js';
import type { ByteSource } from './byte-source.js';
import { CheckpointError } from './checkpoint-error.js';
import {
  isCall,
  isGlobal,
  isPersistent,
  PickleError,
  unpickle,
  type PickleDict,
  type PickleGlobal,
  type PickleValue,
} from './pickle-reader.js';
import { findTorchArchive, readZipDirectory, readZipEntry, type ZipEntry } from './zip-reader.js';

/**
 * Reads a `torch.save` zip checkpoint (a dict name → tensor) into raw stored tensors, honouring each
 * tensor's storage, offset, size and stride. Only contiguous bf16/f16/f32 tensors are accepted.
 */

/** torch storage classes → our dtype; null for dtypes the engine does not load. */
const STORAGE_DTYPES: Record<string, StoredDType | null> = {
  BFloat16Storage: 'bf16',
  HalfStorage: 'f16',
  FloatStorage: 'f32',
  DoubleStorage: null,
  LongStorage: null,
  IntStorage: null,
  ShortStorage: null,
  CharStorage: null,
  ByteStorage: null,
  BoolStorage: null,
  ComplexFloatStorage: null,
  ComplexDoubleStorage: null,
};

/** torch dtype objects (used by _rebuild_tensor_v3 with UntypedStorage). */
const TORCH_DTYPES: Record<string, StoredDType | null> = {
  bfloat16: 'bf16',
  float16: 'f16',
  half: 'f16',
  float32: 'f32',
  float: 'f32',
  float64: null,
  double: null,
  int64: null,
  int32: null,
  int16: null,
  int8: null,
  uint8: null,
  bool: null,
  float8_e4m3fn: null,
  float8_e5m2: null,
};

const REBUILD_TENSOR = ['torch._utils._rebuild_tensor_v2', 'torch._utils._rebuild_tensor_v3'];
const REBUILD_PARAMETER = ['torch._utils._rebuild_parameter', 'torch._utils._rebuild_parameter_with_state'];

export const TORCH_ALLOWED_GLOBALS: ReadonlySet<string> = new Set([
  'collections.OrderedDict',
  '_codecs.encode',
  ...REBUILD_TENSOR,
  ...REBUILD_PARAMETER,
  'torch.UntypedStorage',
  ...Object.keys(STORAGE_DTYPES).map((n) => `torch.${n}`),
  ...Object.keys(TORCH_DTYPES).map((n) => `torch.${n}`),
]);

interface StorageRef {
  key: string;
  /** null: untyped (byte) storage, dtype comes from the tensor. */
  dtype: StoredDType | null;
  typeName: string;
  /** Elements for typed storages, bytes for untyped ones. */
  numel: number;
}

interface TensorRef {
  storage: StorageRef;
  dtype: StoredDType;
  offset: number;
  size: number[];
  stride: number[];
}

/** Keys under which training scripts nest the real state dict. */
const NESTED_KEYS = ['state_dict', 'model', 'module'];

function isTensorValue(v: PickleValue): boolean {
  return isCall(v) && (REBUILD_TENSOR.includes(qual(v.callee)) || REBUILD_PARAMETER.includes(qual(v.callee)));
}

function qual(g: PickleGlobal): string {
  return `${g.module}.${g.name}`;
}

function intList(v: PickleValue): number[] | null {
  if (!Array.isArray(v)) return null;
  return v.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0) ? (v as number[]) : null;
}

export async function readPth(src: ByteSource): Promise<Map<string, StoredTensor>> {
  const fail = (msg: string): never => {
    throw new CheckpointError(src.path, msg);
  };
  const archive = findTorchArchive(src.path, await readZipDirectory(src));
  const byteorder = archive.entries.get(`${archive.prefix}byteorder`);
  if (byteorder && byteorder.uncompressedSize < 16) {
    const order = new TextDecoder().decode(await readZipEntry(src, byteorder)).trim();
    if (order === 'big') fail('big-endian checkpoints are not supported');
  }

  let root: PickleValue;
  try {
    root = unpickle(await readZipEntry(src, archive.pickle), { allowedGlobals: TORCH_ALLOWED_GLOBALS });
  } catch (err) {
    if (err instanceof PickleError) fail(`${archive.pickle.name}: ${err.message}`);
    throw err;
  }
  const dict = findStateDict(root, fail);

  const refs: [string, TensorRef][] = [];
  for (const [k, v] of dict) {
    if (typeof k !== 'string') fail(`state dict has a non-string key (${String(k)})`);
    refs.push([k as string, tensorRef(k as string, v, fail)]);
  }

  const storages = new Map<string, Uint8Array>();
  const out = new Map<string, StoredTensor>();
  for (const [name, t] of refs) {
    const bpe = bytesPerElement(t.dtype);
    const storageBytes = t.storage.dtype === null ? t.storage.numel : t.storage.numel * bpe;
    let data = storages.get(t.storage.key);
    if (!data) {
      const entryName = `${archive.prefix}data/${t.storage.key}`;
      const entry: ZipEntry | undefined = archive.entries.get(entryName);
      if (!entry) return fail(`storage ${entryName} of tensor ${name} is missing from the zip`);
      if (entry.uncompressedSize !== storageBytes) {
        fail(
          `storage ${entryName} of tensor ${name} has ${entry.uncompressedSize} bytes, the pickle says ${storageBytes}`,
        );
      }
      data = await readZipEntry(src, entry);
      storages.set(t.storage.key, data);
    }
    if (data.length !== storageBytes) {
      fail(`tensor ${name}: storage ${t.storage.key} is shared with a different size or dtype`);
    }
    const n = numel(t.size);
    const begin = t.offset * bpe;
    const end = begin + n * bpe;
    if (end > data.length) {
      fail(
        `tensor ${name} (offset ${t.offset}, shape [${t.size}]) runs past its storage of ${data.length} bytes`,
      );
    }
    out.set(name, { dtype: t.dtype, shape: t.size, bytes: data.subarray(begin, end) });
  }
  return out;
}

function findStateDict(root: PickleValue, fail: (m: string) => never): PickleDict {
  if (!(root instanceof Map)) return fail('pickle root is not a dict');
  for (const v of root.values()) if (isTensorValue(v)) return root;
  for (const key of NESTED_KEYS) {
    const inner = root.get(key);
    if (inner instanceof Map) return findStateDict(inner, fail);
  }
  const keys = [...root.keys()].slice(0, 8).map(String).join(', ');
  return fail(`pickle holds no tensors (top-level keys: ${keys || 'none'})`);
}

function tensorRef(name: string, v: PickleValue, fail: (m: string) => never): TensorRef {
  if (!isCall(v)) return fail(`state dict entry ${name} is not a tensor`);
  const callee = qual(v.callee);
  if (REBUILD_PARAMETER.includes(callee)) return tensorRef(name, v.args[0] ?? null, fail);
  if (!REBUILD_TENSOR.includes(callee)) return fail(`state dict entry ${name} is a ${callee}, not a tensor`);

  const [pers, offset, sizeV, strideV] = v.args;
  if (!isPersistent(pers)) return fail(`tensor ${name}: first argument is not a storage reference`);
  const storage = storageRef(name, pers.pid, fail);
  let dtype = storage.dtype;
  if (callee === 'torch._utils._rebuild_tensor_v3') {
    const d = v.args[6];
    if (!isGlobal(d) || d.module !== 'torch' || !(d.name in TORCH_DTYPES))
      fail(`tensor ${name}: bad dtype argument`);
    const dg = d as PickleGlobal;
    dtype = TORCH_DTYPES[dg.name];
    if (dtype === null)
      fail(`tensor ${name} has unsupported dtype torch.${dg.name} (expected bfloat16, float16 or float32)`);
  }
  if (dtype === null) {
    return fail(
      `tensor ${name} has unsupported dtype ${storage.typeName} (expected BFloat16, Half or Float storage)`,
    );
  }
  const size = intList(sizeV);
  const stride = intList(strideV);
  if (
    typeof offset !== 'number' ||
    !Number.isSafeInteger(offset) ||
    offset < 0 ||
    !size ||
    !stride ||
    size.length !== stride.length
  ) {
    return fail(`tensor ${name}: malformed offset/size/stride`);
  }
  let expect = 1;
  for (let i = size.length - 1; i >= 0; i--) {
    // Size-1 dims may carry any stride in torch; only the others define the layout.
    if (size[i] !== 1 && stride[i] !== expect && numel(size) !== 0) {
      fail(
        `tensor ${name} is not contiguous (shape [${size}], stride [${stride}]); re-save it with .contiguous()`,
      );
    }
    expect *= size[i];
  }
  return { storage, dtype, offset, size, stride };
}

function storageRef(name: string, pid: PickleValue, fail: (m: string) => never): StorageRef {
  if (!Array.isArray(pid) || pid.length < 5 || pid[0] !== 'storage') {
    return fail(`tensor ${name}: unrecognised persistent id`);
  }
  const [, type, key, , n] = pid;
  if (
    !isGlobal(type) ||
    type.module !== 'torch' ||
    typeof key !== 'string' ||
    typeof n !== 'number' ||
    !Number.isSafeInteger(n) ||
    n < 0
  ) {
    return fail(`tensor ${name}: malformed storage reference`);
  }
  if (!/^[\w.-]+$/.test(key)) fail(`tensor ${name}: bad storage key ${JSON.stringify(key)}`);
  if (type.name === 'UntypedStorage') return { key, dtype: null, typeName: type.name, numel: n };
  if (!(type.name in STORAGE_DTYPES)) fail(`tensor ${name}: unknown storage type torch.${type.name}`);
  return { key, dtype: STORAGE_DTYPES[type.name], typeName: `torch.${type.name}`, numel: n };
}

/**
 * A data-only unpickler for torch checkpoints (pickle protocols 2-5). Nothing is ever executed:
 * globals become tagged `PickleGlobal` objects, calls become `PickleCall` records that the caller
 * interprets (see pth-reader). Only globals in the allow-list are accepted, and every length field is
 * checked against the remaining bytes before use, so corrupt input fails fast with a clear message.
 */

export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PickleValue[]
  | PickleDict
  | PickleGlobal
  | PickleCall
  | PicklePersistent;

export type PickleDict = Map<PickleValue, PickleValue>;

/** A reference to `module.name`; never resolved to code. */
export interface PickleGlobal {
  readonly kind: 'global';
  readonly module: string;
  readonly name: string;
}

/** `callee(*args)` from REDUCE or `cls.__new__(cls, *args)` from NEWOBJ, plus any BUILD state. */
export interface PickleCall {
  readonly kind: 'call';
  readonly callee: PickleGlobal;
  readonly args: PickleValue[];
  state?: PickleValue;
}

/** A BINPERSID reference (torch: a storage tuple). */
export interface PicklePersistent {
  readonly kind: 'persistent';
  readonly pid: PickleValue;
}

export class PickleError extends Error {}

export interface UnpickleOptions {
  /** `module.name` strings that GLOBAL / STACK_GLOBAL may reference. */
  readonly allowedGlobals: ReadonlySet<string>;
}

type Tagged = PickleGlobal | PickleCall | PicklePersistent;

function isTagged(v: PickleValue): v is Tagged {
  return (
    typeof v === 'object' &&
    v !== null &&
    !Array.isArray(v) &&
    !(v instanceof Map) &&
    !(v instanceof Uint8Array)
  );
}

export function isGlobal(v: PickleValue, qualified?: string): v is PickleGlobal {
  return (
    isTagged(v) && v.kind === 'global' && (qualified === undefined || `${v.module}.${v.name}` === qualified)
  );
}

export function isCall(v: PickleValue): v is PickleCall {
  return isTagged(v) && v.kind === 'call';
}

export function isPersistent(v: PickleValue): v is PicklePersistent {
  return isTagged(v) && v.kind === 'persistent';
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const latin1 = new TextDecoder('latin1');

/** Calls whose result is plain data and that SETITEMS/APPENDS must be able to fill. */
function evaluateKnownCall(callee: PickleGlobal, args: PickleValue[]): PickleValue | undefined {
  const q = `${callee.module}.${callee.name}`;
  if (q === 'collections.OrderedDict' && args.length === 0) return new Map();
  if (q === 'builtins.dict' && args.length === 0) return new Map();
  if (q === '_codecs.encode' && typeof args[0] === 'string') {
    // Protocol 2 pickles Python 3 bytes as _codecs.encode(str, 'latin1').
    return Uint8Array.from(args[0], (ch) => ch.charCodeAt(0) & 0xff);
  }
  return undefined;
}

export function unpickle(data: Uint8Array, options: UnpickleOptions): PickleValue {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let pos = 0;
  // MARK pushes the current stack onto `marks` and starts a fresh one (as CPython's metastack does).
  let stack: PickleValue[] = [];
  const marks: PickleValue[][] = [];
  const memo = new Map<number, PickleValue>();

  const fail = (msg: string): never => {
    throw new PickleError(`pickle byte ${pos}: ${msg}`);
  };
  const need = (n: number): number => {
    if (!Number.isSafeInteger(n) || n < 0 || pos + n > data.length) {
      fail(`needs ${n} bytes but only ${data.length - pos} remain (truncated or corrupt pickle)`);
    }
    const at = pos;
    pos += n;
    return at;
  };
  const u8 = () => data[need(1)];
  const u16 = () => dv.getUint16(need(2), true);
  const u32 = () => dv.getUint32(need(4), true);
  const u64 = (): number => {
    const v = dv.getBigUint64(need(8), true);
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? fail(`length ${v} is too large`) : Number(v);
  };
  const bytes = (n: number) => data.subarray(need(n), pos);
  const str = (n: number): string => {
    const b = bytes(n);
    try {
      return utf8.decode(b);
    } catch {
      return fail('invalid UTF-8 in string');
    }
  };
  const line = (): string => {
    const end = data.indexOf(0x0a, pos);
    if (end < 0) fail('unterminated GLOBAL line');
    return latin1.decode(bytes(end - pos + 1)).slice(0, -1);
  };
  const pop = (): PickleValue => {
    const v = stack.pop();
    return v === undefined ? fail('stack underflow') : v;
  };
  const top = (): PickleValue => {
    const v = stack[stack.length - 1];
    return v === undefined ? fail('stack underflow') : v;
  };
  const popMark = (): PickleValue[] => {
    const items = stack;
    const prev = marks.pop();
    if (prev === undefined) return fail('no MARK to pop to');
    stack = prev;
    return items;
  };
  const global = (module: string, name: string): PickleGlobal => {
    const q = `${module}.${name}`;
    if (!options.allowedGlobals.has(q))
      fail(`global ${q} is not allowed (this is not a plain tensor state dict)`);
    return { kind: 'global', module, name };
  };
  const call = (callee: PickleValue, args: PickleValue): PickleValue => {
    if (!isGlobal(callee)) return fail('call target is not a global');
    if (!Array.isArray(args)) return fail('call arguments are not a tuple');
    return evaluateKnownCall(callee, args) ?? { kind: 'call', callee, args };
  };
  const long = (n: number): number | bigint => {
    if (n === 0) return 0;
    // Big-int parsing is quadratic; state dicts only hold small ints, so a huge one means corruption.
    if (n > 64) fail(`integer of ${n} bytes is too large`);
    const b = bytes(n);
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b[n - 1] & 0x80) v -= 1n << BigInt(8 * n);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const setItems = (dict: PickleValue, items: PickleValue[]): void => {
    if (!(dict instanceof Map)) fail('SETITEM(S) target is not a dict');
    if (items.length % 2) fail('SETITEMS with an odd number of items');
    for (let i = 0; i < items.length; i += 2) (dict as PickleDict).set(items[i], items[i + 1]);
  };
  const appendItems = (list: PickleValue, items: PickleValue[]): void => {
    if (!Array.isArray(list)) fail('APPEND(S) target is not a list');
    for (const item of items) (list as PickleValue[]).push(item); // no spread: huge batches overflow the call stack
  };

  while (pos < data.length) {
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) fail('pickle protocol above 5');
        break;
      case 0x95: // FRAME: just a length prefix for buffering
        u64();
        break;
      case 0x2e: // STOP
        if (marks.length) fail('STOP inside an open MARK');
        if (stack.length !== 1) fail(`STOP with ${stack.length} values on the stack`);
        return pop();
      case 0x28: // MARK
        marks.push(stack);
        stack = [];
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(dv.getInt32(need(4), true));
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(long(u8()));
        break;
      case 0x8b: {
        // LONG4
        const n = dv.getInt32(need(4), true);
        if (n < 0) fail('negative LONG4 length');
        stack.push(long(n));
        break;
      }
      case 0x47: // BINFLOAT (big-endian)
        stack.push(dv.getFloat64(need(8), false));
        break;
      case 0x58: // BINUNICODE
        stack.push(str(u32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(str(u8()));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(str(u64()));
        break;
      case 0x54: // BINSTRING (py2 str)
        stack.push(latin1.decode(bytes(dv.getInt32(need(4), true))));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(latin1.decode(bytes(u8())));
        break;
      case 0x42: // BINBYTES
        stack.push(bytes(u32()).slice());
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(bytes(u8()).slice());
        break;
      case 0x8e: // BINBYTES8
        stack.push(bytes(u64()).slice());
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        stack.push([pop(), b]);
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        stack.push([pop(), b, c]);
        break;
      }
      case 0x74: // TUPLE
      case 0x6c: {
        // LIST. (popMark replaces `stack`, so take the value before touching it.)
        const items = popMark();
        stack.push(items);
        break;
      }
      case 0x64: {
        // DICT
        const d: PickleDict = new Map();
        setItems(d, popMark());
        stack.push(d);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        appendItems(top(), [v]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x8f: // EMPTY_SET (kept as a list; sets never hold tensors)
        stack.push([]);
        break;
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x91: {
        // FROZENSET
        const items = popMark();
        stack.push(items);
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
      case 0x6a: {
        // LONG_BINGET
        const idx = op === 0x68 ? u8() : u32();
        const v = memo.get(idx);
        if (v === undefined) fail(`memo entry ${idx} is missing`);
        stack.push(v as PickleValue);
        break;
      }
      case 0x63: {
        // GLOBAL
        const module = line();
        stack.push(global(module, line()));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(global(module as string, name as string));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        stack.push(call(pop(), args));
        break;
      }
      case 0x81: {
        // NEWOBJ
        const args = pop();
        stack.push(call(pop(), args));
        break;
      }
      case 0x62: {
        // BUILD: attach state to the object; never run __setstate__
        const state = pop();
        const obj = top();
        if (isCall(obj)) obj.state = state;
        break;
      }
      case 0x51: // BINPERSID
        stack.push({ kind: 'persistent', pid: pop() });
        break;
      case 0x30: // POP
        if (stack.length) stack.pop();
        else popMark();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      default:
        fail(`unsupported opcode 0x${op.toString(16).padStart(2, '0')}`);
    }
  }
  return fail('pickle ended without STOP (truncated)');
}

import * as fs from 'node:fs';
import { onnx } from 'onnx-proto';

/** ONNX element types used by the engine (values are onnx.TensorProto.DataType). */
export const ElemType = {
  float: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
} as const;
export type ElemTypeCode = (typeof ElemType)[keyof typeof ElemType];

/** Plain numbers are INT attributes when integral; wrap a float that may be integral as `{ float: x }`. */
type AttrValue =
  | number
  | number[]
  | string
  | { float: number }
  | { floats: number[] }
  | { tensor: onnx.ITensorProto }
  | { graph: onnx.IGraphProto };
export type Attrs = Record<string, AttrValue>;

interface PendingInitializer {
  name: string;
  type: ElemTypeCode;
  dims: number[];
  bytes: Uint8Array;
}

/** Initializers at least this large go to the external data file; small ones stay inline. */
const EXTERNAL_THRESHOLD_BYTES = 1024;
/** Offsets in the external data file are aligned so onnxruntime can map them straight from the page cache. */
const EXTERNAL_ALIGNMENT = 65536;

function asBytes(data: ArrayBufferView): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * A minimal ONNX graph builder: nodes, inputs, outputs and initializers, serialised with onnx-proto.
 * Large initializers are written to one external data file beside the model, which keeps the protobuf far
 * below its 2 GB limit and lets onnxruntime memory-map the weights.
 */
export class OnnxGraphBuilder {
  private readonly nodes: onnx.INodeProto[] = [];
  private readonly inputs: onnx.IValueInfoProto[] = [];
  private readonly outputs: onnx.IValueInfoProto[] = [];
  private readonly initializers: PendingInitializer[] = [];
  private readonly constCache = new Map<string, string>();
  private counter = 0;
  private usesMicrosoftDomain = false;

  constructor(
    private readonly graphName: string,
    private readonly opset = 17,
  ) {}

  get nodeCount(): number {
    return this.nodes.length;
  }

  private fresh(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }

  input(name: string, type: ElemTypeCode, dims: (number | string)[]): string {
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  output(name: string, type: ElemTypeCode, dims: (number | string)[], from: string): string {
    this.op('Identity', [from], {}, { outputs: [name] });
    this.outputs.push(valueInfo(name, type, dims));
    return name;
  }

  /** Adds a named weight tensor. `data` is little-endian in the element type's layout. */
  initializer(name: string, type: ElemTypeCode, dims: number[], data: ArrayBufferView): string {
    this.initializers.push({ name, type, dims, bytes: asBytes(data) });
    return name;
  }

  weightF32(name: string, dims: number[], data: Float32Array): string {
    if (data.length !== dims.reduce((a, b) => a * b, 1))
      throw new Error(`initializer ${name}: size mismatch`);
    return this.initializer(name, ElemType.float, dims, data);
  }

  /** A small float32 constant, shared between uses with equal content. */
  constF32(values: number[] | Float32Array, dims: number[] = [values.length]): string {
    const arr = values instanceof Float32Array ? values : Float32Array.from(values);
    return this.cachedConst('f', ElemType.float, dims, arr);
  }

  constI64(values: number[], dims: number[] = [values.length]): string {
    return this.cachedConst('i', ElemType.int64, dims, BigInt64Array.from(values.map((v) => BigInt(v))));
  }

  private cachedConst(tag: string, type: ElemTypeCode, dims: number[], data: ArrayBufferView): string {
    const key = `${tag}:${dims.join('x')}:${Buffer.from(asBytes(data)).toString('base64')}`;
    const hit = this.constCache.get(key);
    if (hit) return hit;
    const name = this.fresh('const');
    this.initializers.push({ name, type, dims, bytes: new Uint8Array(asBytes(data)) });
    this.constCache.set(key, name);
    return name;
  }

  /** Appends a node and returns its first output's name. */
  op(
    opType: string,
    inputs: string[],
    attrs: Attrs = {},
    opts: { outputs?: string[]; domain?: string } = {},
  ): string {
    return this.opMulti(opType, inputs, attrs, { ...opts, count: opts.outputs?.length ?? 1 })[0];
  }

  /** Appends a node with several outputs. */
  opMulti(
    opType: string,
    inputs: string[],
    attrs: Attrs,
    opts: { count: number; outputs?: string[]; domain?: string },
  ): string[] {
    const outputs =
      opts.outputs ?? Array.from({ length: opts.count }, () => this.fresh(opType.toLowerCase()));
    if (opts.domain === 'com.microsoft') this.usesMicrosoftDomain = true;
    this.nodes.push({
      opType,
      input: inputs,
      output: outputs,
      name: this.fresh(`n_${opType}`),
      domain: opts.domain ?? '',
      attribute: Object.entries(attrs).map(([name, v]) => attribute(name, v)),
    });
    return outputs;
  }

  /** This graph as a subgraph body (for Loop/Scan/If): initializers inline, no external data. */
  toSubgraph(): onnx.IGraphProto {
    return {
      name: this.graphName,
      node: this.nodes,
      input: this.inputs,
      output: this.outputs,
      initializer: this.initializers.map((i) => ({
        name: i.name,
        dataType: i.type,
        dims: i.dims,
        rawData: i.bytes,
      })),
    };
  }

  /**
   * Writes `<modelPath>` and, when there are large initializers, `<modelPath>.data` beside it.
   * Returns the total bytes of weights written.
   */
  save(modelPath: string): number {
    const dataPath = `${modelPath}.data`;
    const dataFileName = dataPath.split(/[\\/]/).pop() as string;
    let fd: number | undefined;
    let offset = 0;
    const tensors: onnx.ITensorProto[] = [];
    try {
      for (const init of this.initializers) {
        const t: onnx.ITensorProto = { name: init.name, dataType: init.type, dims: init.dims };
        if (init.bytes.byteLength >= EXTERNAL_THRESHOLD_BYTES) {
          if (fd === undefined) fd = fs.openSync(dataPath, 'w');
          const aligned = Math.ceil(offset / EXTERNAL_ALIGNMENT) * EXTERNAL_ALIGNMENT;
          if (aligned > offset)
            fs.writeSync(fd, new Uint8Array(aligned - offset), 0, aligned - offset, offset);
          fs.writeSync(fd, init.bytes, 0, init.bytes.byteLength, aligned);
          t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
          t.externalData = [
            { key: 'location', value: dataFileName },
            { key: 'offset', value: String(aligned) },
            { key: 'length', value: String(init.bytes.byteLength) },
          ];
          offset = aligned + init.bytes.byteLength;
        } else {
          t.rawData = init.bytes;
        }
        tensors.push(t);
      }
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
    const opsetImport: onnx.IOperatorSetIdProto[] = [{ domain: '', version: this.opset }];
    if (this.usesMicrosoftDomain) opsetImport.push({ domain: 'com.microsoft', version: 1 });
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'gooseherd-engine',
      opsetImport,
      graph: {
        name: this.graphName,
        node: this.nodes,
        input: this.inputs,
        output: this.outputs,
        initializer: tensors,
      },
    });
    fs.writeFileSync(modelPath, onnx.ModelProto.encode(model).finish());
    return offset;
  }
}

function valueInfo(name: string, elemType: number, dims: (number | string)[]): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, v: AttrValue): onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'number') {
    return Number.isInteger(v) ? { name, type: T.INT, i: v } : { name, type: T.FLOAT, f: v };
  }
  if (typeof v === 'string') return { name, type: T.STRING, s: Buffer.from(v, 'utf8') };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  if ('float' in v) return { name, type: T.FLOAT, f: v.float };
  if ('floats' in v) return { name, type: T.FLOATS, floats: v.floats };
  if ('graph' in v) return { name, type: T.GRAPH, g: v.graph };
  return { name, type: T.TENSOR, t: v.tensor };
}

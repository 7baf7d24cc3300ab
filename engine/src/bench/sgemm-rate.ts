import * as ort from 'onnxruntime-node';
import { ElemType, OnnxGraphBuilder } from '../onnx/onnx-graph-builder.js';
import { Rwkv7Config } from '../model/rwkv7-config.js';
import { bestRunSeconds } from './graph-timing.js';

/**
 * onnxruntime's own fp32 matrix-product rate on this machine: [256, C]·[C, 4C] products, best of several
 * runs. This is the compute ceiling prefill is compared with (it cannot beat the GEMM it is made of).
 */
export async function measureSgemmRate(threads: number, width = 768): Promise<number> {
  const M = 256;
  const K = width;
  const N = 4 * width;
  const g = new OnnxGraphBuilder('sgemm');
  const x = g.input('x', ElemType.float, [M, K]);
  const outs: string[] = [];
  for (let i = 0; i < 8; i++) {
    const w = new Float32Array(K * N).map((_, j) => ((j * 2654435761) % 1000) / 1e5 - 0.005);
    outs.push(g.op('MatMul', [x, g.weightF32(`w${i}`, [K, N], w)]));
  }
  g.output('y', ElemType.float, [M, N], g.op('Sum', outs));
  const feeds = { x: new ort.Tensor('float32', new Float32Array(M * K).fill(0.01), [M, K]) };
  const best = await bestRunSeconds(g, feeds, threads, 10);
  return (8 * 2 * M * K * N) / best / 1e9;
}

/** Multiply-adds ×2 per prefill token: every projection and LoRA (the head runs once per chunk, not per token). */
export function prefillFlopsPerToken(c: Rwkv7Config): number {
  const C = c.nEmbd;
  const proj = 4 * C * C + 2 * C * c.dimFfn;
  const lora = 2 * C * (c.dimDecayLora + c.dimALora + c.dimVLora + c.dimGateLora);
  return 2 * c.nLayer * (proj + lora);
}

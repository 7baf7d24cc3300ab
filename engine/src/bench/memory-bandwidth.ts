import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { ElemType, OnnxGraphBuilder } from '../onnx/onnx-graph-builder.js';
import { bestRunSeconds } from './graph-timing.js';

export interface BandwidthReading {
  /** Best-of-runs read bandwidth, GB/s (1e9 bytes). */
  readonly gbPerSecond: number;
  /** How it was measured. */
  readonly method: string;
}

/**
 * A STREAM-style read kernel: sums a 512 MB float array with `threads` OpenMP threads, best of 8 passes.
 * Compiled on the fly with the system C compiler because neither JavaScript nor onnxruntime can issue
 * loads as fast as the hardware allows; falls back to an onnxruntime reduction where no compiler exists.
 */
const READ_KERNEL_C = `
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
int main(int argc,char**argv){size_t n=(size_t)atol(argv[1])/4;float*a=aligned_alloc(64,n*4);
#pragma omp parallel for
for(size_t i=0;i<n;i++)a[i]=1.0f;
double best=1e30;for(int r=0;r<8;r++){double t=now();float s0=0,s1=0,s2=0,s3=0,s4=0,s5=0,s6=0,s7=0;
#pragma omp parallel for reduction(+:s0,s1,s2,s3,s4,s5,s6,s7)
for(size_t i=0;i<n;i+=8){s0+=a[i];s1+=a[i+1];s2+=a[i+2];s3+=a[i+3];s4+=a[i+4];s5+=a[i+5];s6+=a[i+6];s7+=a[i+7];}
t=now()-t;if(t<best)best=t;if(s0+s1+s2+s3+s4+s5+s6+s7==-1)puts("");}
printf("%f\\n",n*4/best/1e9);return 0;}
`;

const BUFFER_BYTES = 512 * 1024 * 1024;

export async function measureReadBandwidth(
  threads: number,
  workDir = os.tmpdir(),
): Promise<BandwidthReading> {
  try {
    const dir = fs.mkdtempSync(path.join(workDir, 'gooseherd-bw-'));
    try {
      const src = path.join(dir, 'read.c');
      const bin = path.join(dir, 'read');
      fs.writeFileSync(src, READ_KERNEL_C);
      execFileSync('cc', ['-O3', '-march=native', '-ffast-math', '-fopenmp', src, '-o', bin], {
        stdio: 'pipe',
      });
      const out = execFileSync(bin, [String(BUFFER_BYTES)], {
        env: { ...process.env, OMP_NUM_THREADS: String(threads) },
        encoding: 'utf8',
      });
      return {
        gbPerSecond: Number(out.trim()),
        method: `C read kernel, ${threads} OpenMP threads, 512 MB, best of 8`,
      };
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  } catch {
    return measureWithOnnxruntime(threads, workDir);
  }
}

async function measureWithOnnxruntime(threads: number, workDir: string): Promise<BandwidthReading> {
  const rows = 512;
  const cols = BUFFER_BYTES / 4 / rows;
  const g = new OnnxGraphBuilder('read_bandwidth');
  const x = g.input('x', ElemType.float, [rows, cols]);
  g.output('y', ElemType.float, [rows], g.op('ReduceMax', [x], { axes: [1], keepdims: 0 }));
  const feeds = { x: new ort.Tensor('float32', new Float32Array(rows * cols).fill(1), [rows, cols]) };
  const best = await bestRunSeconds(g, feeds, threads, 8, workDir);
  return {
    gbPerSecond: BUFFER_BYTES / best / 1e9,
    method: `onnxruntime ReduceMax, ${threads} threads (no C compiler)`,
  };
}

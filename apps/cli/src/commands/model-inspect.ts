import { Command } from 'commander';
import { checkpointFingerprint, loadCheckpoint, parameterCount, stateFloats } from '@gooseherd/engine';
import { action } from '../cli-error.js';

export function inspectCommand(): Command {
  return new Command('inspect')
    .description('print the configuration derived from a checkpoint (.pth or .safetensors) as JSON')
    .argument('<file>', 'checkpoint file')
    .action(
      action(async (file: string) => {
        const ckpt = await loadCheckpoint(file);
        const c = ckpt.config;
        const dtypes = [...new Set([...ckpt.tensors.values()].map((t) => t.dtype))];
        const report = {
          file,
          arch: 'rwkv7',
          nLayer: c.nLayer,
          nEmbd: c.nEmbd,
          nHead: c.nHead,
          headSize: c.headSize,
          vocabSize: c.vocabSize,
          dimFfn: c.dimFfn,
          loraDims: { decay: c.dimDecayLora, a: c.dimALora, v: c.dimVLora, gate: c.dimGateLora },
          parameters: parameterCount(ckpt.config, ckpt.tensors.has('blocks.0.att.v0')),
          tensors: ckpt.tensors.size,
          storedDTypes: dtypes,
          layer0HasValueResidualWeights: ckpt.tensors.has('blocks.0.att.v0'),
          stateBytes: stateFloats(c) * 4,
          fingerprint: checkpointFingerprint(ckpt),
        };
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      }),
    );
}

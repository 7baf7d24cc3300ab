import { Command } from 'commander';
import { WorldTokenizer } from '@gooseherd/engine';
import { action } from '../cli-error.js';
import { readUserFile } from '../options.js';

export function tokenizeCommand(): Command {
  return new Command('tokenize')
    .description(
      'encode text with the RWKV World tokenizer; the ids are the last line of stdout, as a JSON array',
    )
    .requiredOption('--vocab <file>', 'vocabulary file (rwkv_vocab_v20230424.txt)')
    .option('--text <string>', 'text to encode (UTF-8)')
    .option('--input-file <file>', 'raw bytes to encode (may be invalid UTF-8)')
    .action(
      action(async (opts: { vocab: string; text?: string; inputFile?: string }) => {
        if ((opts.text === undefined) === (opts.inputFile === undefined)) {
          throw new Error('give exactly one of --text or --input-file');
        }
        readUserFile('--vocab', opts.vocab); // a clear error for a missing file before parsing
        const tokenizer = WorldTokenizer.fromFile(opts.vocab);
        const ids =
          opts.text !== undefined
            ? tokenizer.encode(opts.text)
            : tokenizer.encodeBytes(new Uint8Array(readUserFile('--input-file', opts.inputFile as string)));
        process.stdout.write(`${JSON.stringify(ids)}\n`);
      }),
    );
}

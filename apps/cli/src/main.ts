import { Command, CommanderError } from 'commander';
import { benchCommand } from './commands/model-bench.js';
import { evalCommand } from './commands/model-eval.js';
import { generateCommand } from './commands/model-generate.js';
import { inspectCommand } from './commands/model-inspect.js';
import { listCommand, pullCommand, rmCommand } from './commands/model-store.js';
import { tokenizeCommand } from './commands/model-tokenize.js';

export function buildProgram(): Command {
  const model = new Command('model')
    .description(
      'inspect, evaluate, tokenize, generate and benchmark RWKV-7 models; pull, list and remove official weights',
    )
    .addCommand(inspectCommand())
    .addCommand(evalCommand())
    .addCommand(tokenizeCommand())
    .addCommand(generateCommand())
    .addCommand(benchCommand())
    .addCommand(pullCommand())
    .addCommand(listCommand())
    .addCommand(rmCommand());
  return new Command('gooseherd')
    .description('Gooseherd: long-running agents on RWKV-7 recurrent language models')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .addCommand(model);
}

/** Entry point of bin/gooseherd.js. Exit code 0 only on success. */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  const override = (cmd: Command): void => {
    cmd.exitOverride();
    cmd.commands.forEach(override);
  };
  override(program);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander already printed the message (or the help / version text)
      process.exitCode = err.exitCode;
      return;
    }
    process.stderr.write(`gooseherd: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}

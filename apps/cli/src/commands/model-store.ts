/** `gooseherd model pull | list | rm`: the catalogue of official RWKV-7 weights and the pulled copies. */
import { Command, Option } from 'commander';
import { SingleBar } from 'cli-progress';
import { z } from 'zod';
import {
  CatalogueError,
  findCatalogueModel,
  listPulled,
  loadCatalogue,
  modelsDir,
  PullError,
  pullModel,
  removePulled,
  type DownloadProgress,
  type PullErrorKind,
} from '@gooseherd/agent-runtime';
import { EnvSchema } from '@gooseherd/contracts';
import { describeError } from '../cli-error.js';
import { parseIntArg } from '../options.js';

/** Exit codes of the model store commands (apps/cli/README.md lists them). */
export const EXIT = {
  ok: 0,
  failure: 1,
  unknownModel: 2,
  notFound: 3,
  checksum: 4,
  disk: 5,
  network: 6,
} as const;

const PULL_EXIT: Record<PullErrorKind, number> = {
  'not-found': EXIT.notFound,
  unauthorized: EXIT.notFound,
  http: EXIT.notFound,
  checksum: EXIT.checksum,
  disk: EXIT.disk,
  network: EXIT.network,
};

/** The settings these commands read, validated like every process's (libs/contracts/src/config.ts). */
const StoreEnv = EnvSchema.pick({
  GOOSEHERD_DATA_DIR: true,
  GOOSEHERD_HF_ENDPOINT: true,
  GOOSEHERD_HF_TOKEN: true,
  GOOSEHERD_MODEL_CATALOGUE: true,
});

function storeEnv(): z.infer<typeof StoreEnv> {
  const parsed = StoreEnv.safeParse(process.env);
  if (!parsed.success) {
    const first = parsed.error.issues[0]!;
    throw new CatalogueError(`${first.path.join('.')}: ${first.message}`);
  }
  return parsed.data;
}

/** Runs a command body; errors become one stderr line (or a JSON object with --json) and their exit code. */
function run<A extends unknown[]>(json: (args: A) => boolean, fn: (...args: A) => Promise<void>) {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      const code =
        err instanceof PullError
          ? PULL_EXIT[err.kind]
          : err instanceof CatalogueError
            ? EXIT.unknownModel
            : EXIT.failure;
      const kind =
        err instanceof PullError ? err.kind : err instanceof CatalogueError ? 'catalogue' : 'error';
      if (json(args))
        process.stdout.write(`${JSON.stringify({ ok: false, error: kind, message: describeError(err) })}\n`);
      process.stderr.write(`gooseherd: ${describeError(err)}\n`);
      if (process.env.GOOSEHERD_DEBUG) process.stderr.write(`${(err as Error)?.stack ?? ''}\n`);
      process.exitCode = code;
    }
  };
}

function formatBytes(n: number | undefined): string {
  if (n === undefined) return '?';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

/** A progress bar with rate and ETA on a terminal; nothing when stderr is not one (logs, pipes, CI). */
function progressReporter(enabled: boolean) {
  let bar: SingleBar | undefined;
  let current = '';
  let started = 0;
  return {
    onProgress(p: DownloadProgress) {
      if (!enabled) return;
      if (p.file !== current) {
        bar?.stop();
        current = p.file;
        started = Date.now();
        bar = new SingleBar({
          format: `${p.file} [{bar}] {percentage}% {done}/{size} {rate}/s ETA {eta_formatted}`,
          stream: process.stderr,
          hideCursor: true,
          etaBuffer: 50,
        });
        bar.start(p.total ?? 0, p.resumedFrom, { done: '', size: formatBytes(p.total), rate: '' });
      }
      const seconds = Math.max((Date.now() - started) / 1000, 0.001);
      bar!.update(p.received, {
        done: formatBytes(p.received),
        rate: formatBytes((p.received - p.resumedFrom) / seconds),
      });
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}

export function pullCommand(): Command {
  return new Command('pull')
    .description('download an official RWKV-7 model (and its vocabulary) into $GOOSEHERD_DATA_DIR/models')
    .argument('<name>', 'catalogue name, e.g. rwkv7-g1-0.4b (see `gooseherd model list`)')
    .option('--force', 'download again even when already pulled')
    .addOption(
      new Option('--retries <n>', 'further attempts after a failed one')
        .argParser(parseIntArg(0, 20))
        .default(5),
    )
    .option('--json', 'print one JSON object on stdout instead of text')
    .action(
      run(
        (a) => Boolean((a[1] as { json?: boolean }).json),
        async (name: string, flags: { force?: boolean; retries: number; json?: boolean }) => {
          const env = storeEnv();
          const catalogue = loadCatalogue(env.GOOSEHERD_MODEL_CATALOGUE);
          findCatalogueModel(name, catalogue); // unknown names fail before any network access
          const progress = progressReporter(Boolean(process.stderr.isTTY) && !flags.json);
          try {
            const outcome = await pullModel(name, {
              dataDir: env.GOOSEHERD_DATA_DIR,
              catalogue,
              endpoint: env.GOOSEHERD_HF_ENDPOINT,
              token: env.GOOSEHERD_HF_TOKEN,
              retries: flags.retries,
              force: flags.force,
              onProgress: progress.onProgress,
              onLockWait: (lock) =>
                process.stderr.write(
                  `gooseherd: another process is pulling this file (${lock}); waiting for it\n`,
                ),
              onRetry: (attempt, reason, ms) => {
                progress.stop();
                process.stderr.write(`gooseherd: ${reason}; retry ${attempt}/${flags.retries} in ${ms} ms\n`);
              },
            });
            progress.stop();
            const r = outcome.record;
            if (flags.json) {
              process.stdout.write(
                `${JSON.stringify({ ok: true, downloaded: outcome.downloaded, ...r, path: outcome.modelPath, vocabPath: outcome.vocabPath ?? null })}\n`,
              );
            } else {
              process.stdout.write(
                `${outcome.downloaded ? 'pulled' : 'already pulled'} ${name}: ${outcome.modelPath} ` +
                  `(${formatBytes(r.bytes)}, sha256 ${r.sha256}, verified by ${r.verifiedBy})\n`,
              );
            }
          } finally {
            progress.stop();
          }
        },
      ),
    );
}

export function listCommand(): Command {
  return new Command('list')
    .description('list the catalogue and which models are pulled')
    .option('--json', 'print one JSON object on stdout instead of a table')
    .action(
      run(
        (a) => Boolean((a[0] as { json?: boolean }).json),
        async (flags: { json?: boolean }) => {
          const env = storeEnv();
          const catalogue = loadCatalogue(env.GOOSEHERD_MODEL_CATALOGUE);
          const pulled = new Map(listPulled(env.GOOSEHERD_DATA_DIR).map((p) => [p.record.name, p]));
          const rows = catalogue.map((m) => {
            const p = pulled.get(m.name);
            return {
              name: m.name,
              repo: m.repo,
              file: m.file,
              bytes: m.bytes ?? null,
              approxBytes: m.approxBytes ?? null,
              sha256: m.sha256 ?? null,
              description: m.description,
              pulled: p
                ? {
                    path: p.modelPath,
                    bytes: p.record.bytes,
                    sha256: p.record.sha256,
                    verifiedBy: p.record.verifiedBy,
                  }
                : null,
            };
          });
          if (flags.json) {
            process.stdout.write(
              `${JSON.stringify({ modelsDir: modelsDir(env.GOOSEHERD_DATA_DIR), models: rows })}\n`,
            );
            return;
          }
          const width = Math.max(...rows.map((r) => r.name.length));
          for (const r of rows) {
            const size = r.pulled
              ? formatBytes(r.pulled.bytes)
              : `~${formatBytes(r.bytes ?? r.approxBytes ?? undefined)}`;
            process.stdout.write(
              `${r.name.padEnd(width)}  ${(r.pulled ? 'pulled' : '-').padEnd(6)}  ${size.padStart(10)}  ${r.repo}/${r.file}\n`,
            );
          }
        },
      ),
    );
}

export function rmCommand(): Command {
  return new Command('rm')
    .description('delete a pulled model (the shared vocabulary file stays)')
    .argument('<name>', 'catalogue name')
    .option('--json', 'print one JSON object on stdout')
    .action(
      run(
        (a) => Boolean((a[1] as { json?: boolean }).json),
        async (name: string, flags: { json?: boolean }) => {
          const env = storeEnv();
          const removed = removePulled(env.GOOSEHERD_DATA_DIR, name);
          if (!removed) {
            findCatalogueModel(name, loadCatalogue(env.GOOSEHERD_MODEL_CATALOGUE)); // exit 2 for unknown names
            throw new Error(
              `${name} is not pulled (nothing to remove in ${modelsDir(env.GOOSEHERD_DATA_DIR)})`,
            );
          }
          if (flags.json)
            process.stdout.write(
              `${JSON.stringify({ ok: true, removed: removed.name, file: removed.file, bytes: removed.bytes })}\n`,
            );
          else process.stdout.write(`removed ${name} (${removed.file}, ${formatBytes(removed.bytes)})\n`);
        },
      ),
    );
}

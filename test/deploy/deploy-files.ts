import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EnvSchema } from '@gooseherd/contracts';
import { parse, parseAllDocuments } from 'yaml';

/** Reading the deployment files (compose, Dockerfile, manifests) and what they must agree with. */

export const ROOT = path.resolve(__dirname, '../..');

export function repoPath(relative: string): string {
  return path.join(ROOT, relative);
}

export function readText(relative: string): string {
  return fs.readFileSync(repoPath(relative), 'utf8');
}

export function exists(relative: string): boolean {
  return fs.existsSync(repoPath(relative));
}

// A YAML document as plain data; the specs narrow it with expectations, not types.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Doc = any;

/** One YAML document; `<<` merge keys resolved, as Compose resolves them. */
export function readYaml(relative: string): Doc {
  return parse(readText(relative), { merge: true });
}

/** Every document of a multi-document YAML file; throws on the first syntax error. */
export function parseYamlDocuments(text: string, name: string): Doc[] {
  return parseAllDocuments(text, { merge: true }).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${name}: ${doc.errors.map((e) => e.message).join('; ')}`);
    return doc.toJS();
  });
}

export function readYamlDocuments(relative: string): Doc[] {
  return parseYamlDocuments(readText(relative), relative).filter((doc) => doc != null);
}

/** Every variable the code reads (`libs/contracts/src/config.ts`). */
export const ENV_NAMES: readonly string[] = Object.keys(EnvSchema.shape);

/** The schema's defaults, as the strings an environment holds; absent for settings without a default. */
export const ENV_DEFAULTS: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(EnvSchema.parse({}))
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => [name, String(value)]),
);

/** True when `name` runs here (`name ...versionArgs` exits 0). */
export function commandAvailable(name: string, versionArgs = ['--version']): boolean {
  const result = spawnSync(name, versionArgs, { stdio: 'ignore', timeout: 20_000 });
  return result.status === 0;
}

/** `{role: command}` from deploy/docker-entrypoint.sh's `case`: `api) exec node apps/api/dist/main.js "$@" ;;`. */
export function entrypointRoles(): Record<string, string> {
  const roles: Record<string, string> = {};
  for (const match of readText('deploy/docker-entrypoint.sh').matchAll(
    /^\s*(\w+)\)\s*exec\s+(.+?)\s+"\$@"/gm,
  )) {
    roles[match[1]] = match[2];
  }
  return roles;
}

/** The root package.json's scripts: what the README runs (`npm run api`, `npm run worker`). */
export function rootScripts(): Record<string, string> {
  return JSON.parse(readText('package.json')).scripts;
}

/** Every route path a Nest controller under apps/api/src declares with @Get('…'). */
export function apiGetRoutes(): Set<string> {
  const routes = new Set<string>();
  const dir = repoPath('apps/api/src/controllers');
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.controller.ts'))) {
    const text = fs.readFileSync(path.join(dir, file), 'utf8');
    const prefix = /@Controller\('([^']*)'\)/.exec(text)?.[1] ?? '';
    for (const match of text.matchAll(/@Get\('([^']*)'\)/g)) {
      routes.add(`/${[prefix, match[1]].filter(Boolean).join('/')}`);
    }
  }
  return routes;
}

/** Parses a Compose duration (`30s`, `1m30s`, `1500ms`) into milliseconds. */
export function durationMs(value: string): number {
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1, us: 0.001 };
  let total = 0;
  const rest = value.replace(/(\d+(?:\.\d+)?)(h|ms|us|m|s)/g, (_, n: string, unit: string) => {
    total += Number(n) * units[unit];
    return '';
  });
  if (rest !== '' || value === '') throw new Error(`not a duration: '${value}'`);
  return total;
}

/** How long after SIGTERM a worker may take at most: GOOSEHERD_DRAIN_MS plus the last-resort margin of its main. */
export function workerStopMs(drainMs: number): number {
  const margin = /GOOSEHERD_DRAIN_MS \+ (\d+)/.exec(readText('apps/worker/src/main.ts'));
  if (!margin) throw new Error('apps/worker/src/main.ts: no "GOOSEHERD_DRAIN_MS + N" last-resort exit found');
  return drainMs + Number(margin[1]);
}

/** Bytes of a Redis memory setting (`1536mb`, `2gb`, `1g`): `k`/`m`/`g` are powers of 1000, `kb`/`mb`/`gb` of 1024. */
export function redisMemoryBytes(value: string): number {
  const match = /^(\d+)(k|kb|m|mb|g|gb)?$/i.exec(value.trim());
  if (!match) throw new Error(`not a Redis memory size: '${value}'`);
  const units: Record<string, number> = { k: 1e3, kb: 1024, m: 1e6, mb: 1024 ** 2, g: 1e9, gb: 1024 ** 3 };
  return Number(match[1]) * (match[2] ? units[match[2].toLowerCase()] : 1);
}

/** Bytes of a Compose `mem_limit` (`2g`, `512m`, `2gb`): Docker's units are powers of 1024. */
export function composeMemoryBytes(value: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(b|k|kb|m|mb|g|gb)?$/i.exec(value.trim());
  if (!match) throw new Error(`not a Compose memory size: '${value}'`);
  const power: Record<string, number> = { b: 0, k: 1, kb: 1, m: 2, mb: 2, g: 3, gb: 3 };
  return Number(match[1]) * 1024 ** power[(match[2] ?? 'b').toLowerCase()];
}

/** Bytes of a Kubernetes quantity (`2Gi`, `1536Mi`, `2G`). */
export function k8sMemoryBytes(value: string): number {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(value.trim());
  if (!match) throw new Error(`not a Kubernetes memory quantity: '${value}'`);
  const units: Record<string, number> = {
    Ki: 1024,
    Mi: 1024 ** 2,
    Gi: 1024 ** 3,
    Ti: 1024 ** 4,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
  };
  return Number(match[1]) * (match[2] ? units[match[2]] : 1);
}

/** The value after `flag` in a command line, or undefined when the flag is absent. */
export function argAfter(args: string[], flag: string): string | undefined {
  const at = args.indexOf(flag);
  return at >= 0 ? args[at + 1] : undefined;
}

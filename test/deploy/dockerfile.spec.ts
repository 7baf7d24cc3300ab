import * as fs from 'node:fs';
import * as path from 'node:path';
import { entrypointRoles, exists, readText, repoPath, rootScripts } from './deploy-files';

// deploy/Dockerfile, read as text (no Docker engine here): a build stage that installs and compiles, a
// small runtime stage with production dependencies and compiled output only, a non-root user, tini as PID 1,
// and an entrypoint and healthcheck that exist.

interface Instruction {
  op: string;
  args: string;
  stage: string;
}

/** The Dockerfile's instructions with continuation lines joined and comments dropped, each with its stage. */
function instructions(): Instruction[] {
  const lines = readText('deploy/Dockerfile')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  let stage = '';
  return lines.map((line) => {
    const [, op, args] = /^(\w+)\s+(.*)$/.exec(line)!;
    if (op.toUpperCase() === 'FROM') stage = /\bAS\s+(\S+)/i.exec(args)?.[1] ?? '';
    return { op: op.toUpperCase(), args: args.replace(/\s+/g, ' '), stage };
  });
}

/** Workspace folders, from the root package.json's globs (`apps/*`, `libs/*`, …). */
function workspaces(): string[] {
  const globs: string[] = JSON.parse(readText('package.json')).workspaces;
  return globs.flatMap((glob) => {
    if (!glob.endsWith('/*')) return [glob];
    const parent = glob.slice(0, -2);
    return fs
      .readdirSync(repoPath(parent))
      .filter((name) => fs.existsSync(repoPath(path.join(parent, name, 'package.json'))))
      .map((name) => `${parent}/${name}`);
  });
}

/** Workspace folder of each `@gooseherd/*` package. */
function workspaceByName(): Map<string, string> {
  return new Map(workspaces().map((dir) => [JSON.parse(readText(`${dir}/package.json`)).name, dir]));
}

/** The workspace folders an app needs at run time: itself and its `@gooseherd/*` dependencies, transitively. */
function runtimeClosure(dir: string, byName = workspaceByName(), seen = new Set<string>()): Set<string> {
  if (seen.has(dir)) return seen;
  seen.add(dir);
  const deps = Object.keys(JSON.parse(readText(`${dir}/package.json`)).dependencies ?? {});
  for (const dep of deps.filter((d) => byName.has(d))) runtimeClosure(byName.get(dep)!, byName, seen);
  return seen;
}

describe('deploy/Dockerfile', () => {
  const all = instructions();
  const build = all.filter((i) => i.stage === 'build');
  const runtime = all.filter((i) => i.stage === 'runtime');
  const from = all.filter((i) => i.op === 'FROM');
  const arg = (name: string) =>
    new RegExp(`^${name}=(\\S+)`).exec(all.find((i) => i.op === 'ARG')?.args ?? '')?.[1];

  it('builds in one stage and runs from another, on glibc Node 20 (onnxruntime-node has no musl build)', () => {
    expect(from.map((i) => i.stage)).toEqual(['build', 'runtime']);
    for (const stage of from) {
      const image = stage.args.split(' ')[0].replace('${NODE_IMAGE}', arg('NODE_IMAGE') ?? '');
      expect(image).toBe('node:20-bookworm-slim');
    }
  });

  it('installs every dependency with the onnxruntime download skipped, then compiles', () => {
    expect(build.some((i) => i.op === 'ENV' && i.args.includes('ONNXRUNTIME_NODE_INSTALL=skip'))).toBe(true);
    const runs = build.filter((i) => i.op === 'RUN').map((i) => i.args);
    expect(runs[0]).toMatch(/^npm ci\b/);
    expect(runs).toContain('npm run build');
    expect(rootScripts().build).toMatch(/^tsc -b /);
  });

  it("copies every workspace's package.json into both stages (npm ci needs the lock's whole workspace)", () => {
    for (const stage of [build, runtime]) {
      const sources = stage
        .filter((i) => i.op === 'COPY')
        .flatMap((i) =>
          i.args
            .split(' ')
            .filter((a) => !a.startsWith('--'))
            .slice(0, -1),
        )
        .map((source) => source.replace(/^\/src\//, ''));
      for (const file of [
        'package.json',
        'package-lock.json',
        ...workspaces().map((d) => `${d}/package.json`),
      ]) {
        expect(sources).toContain(file);
      }
    }
  });

  it('installs production dependencies without scripts in the runtime stage', () => {
    const install = runtime.find((i) => i.op === 'RUN' && i.args.startsWith('npm ci'));
    expect(install?.args).toMatch(/^npm ci --omit=dev --ignore-scripts\b/);
  });

  it('takes only package manifests and compiled dist folders from the build stage', () => {
    const fromBuild = runtime.filter((i) => i.op === 'COPY' && i.args.startsWith('--from=build'));
    const sources = fromBuild.flatMap((i) => i.args.split(' ').slice(1, -1));
    for (const source of sources) expect(source).toMatch(/^\/src\/(.+\/dist|(.+\/)?package(-lock)?\.json)$/);
    // Each app's compiled output and that of every workspace package it depends on.
    const dists = new Set(
      sources.filter((s) => s.endsWith('/dist')).map((s) => s.slice('/src/'.length, -'/dist'.length)),
    );
    for (const app of ['apps/api', 'apps/worker']) {
      for (const dir of runtimeClosure(app))
        expect({ app, dist: dists.has(dir) ? dir : undefined }).toEqual({ app, dist: dir });
    }
  });

  it('runs as a numeric non-root user', () => {
    const users = runtime.filter((i) => i.op === 'USER').map((i) => i.args);
    expect(users.length).toBeGreaterThan(0);
    const [uid] = users.at(-1)!.split(':');
    expect(uid).toMatch(/^\d+$/);
    expect(Number(uid)).toBeGreaterThan(0);
  });

  it('starts tini, which hands SIGTERM to node, with an entrypoint script that exists', () => {
    const entrypoint = JSON.parse(runtime.find((i) => i.op === 'ENTRYPOINT')!.args) as string[];
    expect(entrypoint.slice(0, 2)).toEqual(['/usr/bin/tini', '--']);
    expect(runtime.some((i) => i.op === 'RUN' && /apt-get install .*\btini\b/.test(i.args))).toBe(true);
    expect(entrypoint[2]).toBe('deploy/docker-entrypoint.sh');
    expect(fs.statSync(repoPath(entrypoint[2])).mode & 0o111).not.toBe(0);
    const cmd = JSON.parse(runtime.find((i) => i.op === 'CMD')!.args) as string[];
    expect(Object.keys(entrypointRoles())).toContain(cmd[0]);
  });

  it("maps each role onto the README's command, with exec so node receives the signals", () => {
    expect(entrypointRoles()).toEqual({ api: rootScripts().api, worker: rootScripts().worker });
  });

  it('copies the scripts it runs (entrypoint, healthcheck) from the build context, where they exist', () => {
    const fromContext = runtime.filter((i) => i.op === 'COPY' && !i.args.startsWith('--'));
    const sources = fromContext.flatMap((i) => i.args.split(' ').slice(0, -1));
    const healthcheck = runtime.find((i) => i.op === 'HEALTHCHECK')!.args;
    const script = /CMD \["node", "([^"]+)"\]/.exec(healthcheck)?.[1];
    expect(sources).toEqual(expect.arrayContaining(['deploy/docker-entrypoint.sh', script]));
    for (const source of sources)
      expect({ source, exists: exists(source) }).toEqual({ source, exists: true });
    const ignored = readText('.dockerignore').split('\n');
    expect(ignored).not.toContain('deploy');
  });
});

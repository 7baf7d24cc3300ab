import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Cluster, Redis } from 'ioredis';

/**
 * The store's Lua scripts: one `.lua` file per operation in this folder, named `name-N.lua` when it takes N keys
 * (`name.lua`: the caller passes the key count), each opening with a header that lists its KEYS, ARGV and
 * returns. `--- @include "x"` pulls in `includes/x.lua` once, at load time.
 *
 * The files are read from the package's `src/lua` when it is there (a checkout: Jest, and `node apps/api/dist/main.js`
 * see every edit at once), else from beside this module: the Docker image keeps only `dist/`, and
 * `npm run build` copies the files to `dist/lua` (`scripts/copy-lua.js`).
 */
export const LUA_DIR =
  [path.resolve(__dirname, '..', '..', 'src', 'lua'), __dirname].find((dir) =>
    existsSync(path.join(dir, 'submitTask-6.lua')),
  ) ?? __dirname;

const INCLUDE = /^--- @include "([\w-]+)"\s*$/gm;

export interface ScriptSource {
  name: string;
  /** Undefined: the caller passes the key count first. */
  numberOfKeys?: number;
  lua: string;
}

function resolveIncludes(source: string, seen: Set<string>): string {
  return source.replace(INCLUDE, (_, name: string) => {
    if (seen.has(name)) return '';
    seen.add(name);
    return resolveIncludes(readFileSync(path.join(LUA_DIR, 'includes', `${name}.lua`), 'utf8'), seen);
  });
}

/** Every script, read and with its includes resolved. */
export function loadScripts(dir = LUA_DIR): ScriptSource[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.lua'))
    .sort()
    .map((file) => {
      const match = /^([A-Za-z]+)(?:-(\d+))?\.lua$/.exec(file);
      if (!match) throw new Error(`unexpected Lua file name: ${file}`);
      const lua = resolveIncludes(readFileSync(path.join(dir, file), 'utf8'), new Set());
      return { name: match[1], numberOfKeys: match[2] === undefined ? undefined : Number(match[2]), lua };
    });
}

export const SCRIPT_NAMES = [
  'reserveAgent',
  'releaseAgent',
  'createAgent',
  'listAgent',
  'dropListing',
  'submitTask',
  'cancelTask',
  'deleteAgent',
  'beginSegment',
  'appendTokens',
  'commitCheckpoint',
  'finishTask',
  'recordSegmentFault',
  'setAgentAttention',
] as const;
export type ScriptName = (typeof SCRIPT_NAMES)[number];

type Arg = string | number | Buffer | Uint8Array;
export type RedisClient = Redis | Cluster;
/** A client with the scripts defined as commands `gh<Name>` (EVALSHA, falling back to EVAL after a flush). */
export type ScriptedRedis = RedisClient & {
  [K in ScriptName as `gh${Capitalize<K>}`]: (...args: Arg[]) => Promise<unknown>;
};

let cache: ScriptSource[] | undefined;
const registered = new WeakSet<RedisClient>();

export function commandName(name: string): string {
  return `gh${name[0].toUpperCase()}${name.slice(1)}`;
}

export function withScripts(redis: RedisClient): ScriptedRedis {
  if (!registered.has(redis)) {
    cache ??= loadScripts();
    const missing = SCRIPT_NAMES.filter((n) => !cache!.some((s) => s.name === n));
    if (missing.length) throw new Error(`Lua scripts missing from ${LUA_DIR}: ${missing.join(', ')}`);
    for (const s of cache)
      redis.defineCommand(commandName(s.name), { numberOfKeys: s.numberOfKeys, lua: s.lua });
    registered.add(redis);
  }
  return redis as ScriptedRedis;
}

import type { Redis } from 'ioredis';
import { CANCEL_TASK, CREATE_AGENT, DELETE_AGENT, FORK_AGENT, SUBMIT_TASK } from './api-scripts.js';
import { APPEND_TOKENS, BEGIN_SEGMENT, COMMIT_CHECKPOINT, FINISH_TASK } from './worker-scripts.js';

const SCRIPTS = {
  ghCreateAgent: CREATE_AGENT,
  ghForkAgent: FORK_AGENT,
  ghSubmitTask: SUBMIT_TASK,
  ghCancelTask: CANCEL_TASK,
  ghDeleteAgent: DELETE_AGENT,
  ghBeginSegment: BEGIN_SEGMENT,
  ghAppendTokens: APPEND_TOKENS,
  ghCommitCheckpoint: COMMIT_CHECKPOINT,
  ghFinishTask: FINISH_TASK,
} as const;
export type ScriptName = keyof typeof SCRIPTS;

type Arg = string | number | Buffer | Uint8Array;
/** A client with our scripts defined (EVALSHA, falling back to EVAL after a SCRIPT FLUSH or restart). */
export type ScriptedRedis = Redis & { [K in ScriptName]: (...args: Arg[]) => Promise<unknown> };

const registered = new WeakSet<Redis>();

export function withScripts(redis: Redis): ScriptedRedis {
  if (!registered.has(redis)) {
    for (const [name, lua] of Object.entries(SCRIPTS)) redis.defineCommand(name, { numberOfKeys: 0, lua });
    registered.add(redis);
  }
  return redis as ScriptedRedis;
}

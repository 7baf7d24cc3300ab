import { defaultWorkerName, type Env } from '@gooseherd/contracts';

/** How this process signs task records: `host:pid`, or `GOOSEHERD_WORKER_NAME:pid` (always ends in the pid). */
export function workerName(env: Env): string {
  return env.GOOSEHERD_WORKER_NAME ? `${env.GOOSEHERD_WORKER_NAME}:${process.pid}` : defaultWorkerName();
}

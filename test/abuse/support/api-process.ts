import * as fs from 'node:fs';
import { rawRequest, type GooseherdCluster, type ManagedProcess } from '@gooseherd/test-kit';

/** Log lines at pino level error (50) or fatal (60) in a process's log: what an unhandled error leaves. */
export function errorLogLines(proc: ManagedProcess): string[] {
  let text: string;
  try {
    text = fs.readFileSync(proc.logPath, 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').filter((line) => /"level":(50|60)\b/.test(line));
}

/**
 * What is wrong with the cluster's processes after an abuse run: any process that exited, an API that does
 * not answer /healthz with 200 within 2 s, and (when `quietApi`) error-level lines in the API's log.
 */
export async function survivalProblems(
  cluster: GooseherdCluster,
  options: { quietApi?: boolean } = {},
): Promise<string[]> {
  const problems: string[] = [];
  for (const proc of [cluster.api, ...cluster.workers]) {
    if (!proc.running) problems.push(`${proc.describe()} is not running`);
  }
  try {
    const health = await rawRequest(cluster.baseUrl, { method: 'GET', path: '/healthz', timeoutMs: 2_000 });
    if (health.status !== 200) problems.push(`/healthz answered ${health.status} ${health.text}`);
  } catch (err) {
    problems.push(`/healthz did not answer: ${(err as Error).message}`);
  }
  if (options.quietApi) {
    const lines = errorLogLines(cluster.api);
    if (lines.length > 0) {
      problems.push(`the API logged ${lines.length} error lines, e.g. ${lines[0].slice(0, 600)}`);
    }
  }
  return problems;
}

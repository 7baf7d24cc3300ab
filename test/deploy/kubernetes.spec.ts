import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { loadEnv } from '@gooseherd/contracts';
import {
  apiGetRoutes,
  argAfter,
  k8sMemoryBytes,
  redisMemoryBytes,
  commandAvailable,
  entrypointRoles,
  ENV_DEFAULTS,
  ENV_NAMES,
  exists,
  parseYamlDocuments,
  readText,
  readYaml,
  readYamlDocuments,
  repoPath,
  workerStopMs,
  type Doc,
} from './deploy-files';

// deploy/k8s, checked without a cluster: the kustomize layout resolves and every file parses (and
// `kubectl kustomize` builds the overlay when kubectl is installed); the manifests agree with the code:
// probes on routes the API serves, variables the code reads with valid values, the drain time, the queue gauge.

const BASE = 'deploy/k8s/base';
const OVERLAY = 'deploy/k8s/overlays/example';

/** Settings whose ConfigMap value differs from the schema default on purpose. */
const CONFIG_OVERRIDES: Record<string, string> = {
  REDIS_URL: 'the in-cluster Redis Service, not 127.0.0.1',
  GOOSEHERD_DATA_DIR: 'an emptyDir: the root filesystem is read-only',
};

/** The documents of every resource a kustomization lists, following directories into their kustomizations. */
function resourcesOf(dir: string): Doc[] {
  const kustomization = readYaml(`${dir}/kustomization.yaml`);
  return (kustomization.resources as string[]).flatMap((entry) => {
    const target = path.posix.normalize(`${dir}/${entry}`);
    return exists(`${target}/kustomization.yaml`) ? resourcesOf(target) : readYamlDocuments(target);
  });
}

const docs = resourcesOf(BASE);
const find = (kind: string, name: string): Doc => {
  const doc = docs.find((d) => d.kind === kind && d.metadata.name === name);
  if (!doc) throw new Error(`no ${kind} ${name} in ${BASE}`);
  return doc;
};
const api = find('Deployment', 'gooseherd-api');
const worker = find('Deployment', 'gooseherd-worker');
const config: Record<string, string> = find('ConfigMap', 'gooseherd-config').data;
const overlay = readYaml(`${OVERLAY}/kustomization.yaml`);
const secretKeys: string[] = overlay.secretGenerator.flatMap((s: Doc) =>
  (s.literals as string[]).map((l) => l.slice(0, l.indexOf('='))),
);

describe('deploy/k8s kustomize layout', () => {
  it.each([BASE, OVERLAY])('%s lists resources and patches that exist and parse', (dir) => {
    const kustomization = readYaml(`${dir}/kustomization.yaml`);
    const files = [...kustomization.resources, ...(kustomization.patches ?? []).map((p: Doc) => p.path)];
    for (const entry of files as string[]) {
      const target = path.posix.normalize(`${dir}/${entry}`);
      const isKustomization = exists(`${target}/kustomization.yaml`);
      expect({ entry, exists: isKustomization || exists(target) }).toEqual({ entry, exists: true });
      if (!isKustomization) expect(readYamlDocuments(target).length).toBeGreaterThan(0);
    }
  });

  it('gives every resource an apiVersion, a kind and a name', () => {
    for (const doc of docs) {
      expect(doc).toEqual(
        expect.objectContaining({
          apiVersion: expect.any(String),
          kind: expect.any(String),
          metadata: expect.anything(),
        }),
      );
      expect(doc.metadata.name).toMatch(/^[a-z0-9-]+$/);
    }
  });

  it('builds with kubectl kustomize when kubectl is installed', () => {
    if (!commandAvailable('kubectl', ['version', '--client'])) {
      // Not a skipped test: the file checks here still run; only kustomize's own build is absent.
      console.log('kubectl is not installed: `kubectl kustomize` not run (file checks only)');
      return;
    }
    const result = spawnSync('kubectl', ['kustomize', repoPath(OVERLAY)], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const built = parseYamlDocuments(result.stdout, 'kubectl kustomize');
    for (const doc of built) expect(doc.metadata.namespace ?? overlay.namespace).toBe(overlay.namespace);
    // The generated Secret's hashed name replaces the reference in the API's envFrom.
    const builtApi = built.find((d) => d.kind === 'Deployment' && d.metadata.name === 'gooseherd-api');
    const secretRef = builtApi.spec.template.spec.containers[0].envFrom.find((e: Doc) => e.secretRef)
      .secretRef.name;
    expect(built.some((d) => d.kind === 'Secret' && d.metadata.name === secretRef)).toBe(true);
    expect(builtApi.spec.replicas).toBe(3);
  });
});

describe('deploy/k8s manifests', () => {
  const container = (deployment: Doc): Doc => deployment.spec.template.spec.containers[0];

  it('probes the API on /readyz and /healthz, routes the API serves', () => {
    const routes = apiGetRoutes();
    expect(container(api).readinessProbe.httpGet.path).toBe('/readyz');
    expect(container(api).livenessProbe.httpGet.path).toBe('/healthz');
    expect(routes).toEqual(new Set([...routes, '/readyz', '/healthz']));
    const port = container(api).ports[0];
    expect(container(api).readinessProbe.httpGet.port).toBe(port.name);
    expect(Number(config.PORT)).toBe(port.containerPort);
    const service = find('Service', 'gooseherd-api');
    expect(service.spec.selector).toEqual(api.spec.template.metadata.labels);
    expect(service.spec.ports[0].targetPort).toBe(port.name);
  });

  it.each(['api', 'worker'])('runs the %s role of the image', (role) => {
    const deployment = role === 'api' ? api : worker;
    expect(container(deployment).args).toEqual([role]);
    expect(entrypointRoles()[role]).toBe(`node apps/${role}/dist/main.js`);
  });

  it('lets a worker drain on SIGTERM: no preStop hook, a grace period above the drain time', () => {
    expect(container(worker).lifecycle?.preStop).toBeUndefined();
    const graceMs = worker.spec.template.spec.terminationGracePeriodSeconds * 1000;
    expect(graceMs).toBeGreaterThan(workerStopMs(Number(config.GOOSEHERD_DRAIN_MS)));
  });

  it("exposes each worker's metrics port, the one the worker is told to serve, to Prometheus", () => {
    const port = container(worker).ports.find((p: Doc) => p.name === 'metrics');
    const env = container(worker).env.find((e: Doc) => e.name === 'GOOSEHERD_WORKER_METRICS_PORT');
    expect(Number(env.value)).toBe(port.containerPort);
    expect(worker.spec.template.metadata.annotations).toMatchObject({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': String(port.containerPort),
      'prometheus.io/path': '/metrics',
    });
  });

  it('sets only variables the code reads', () => {
    const names = [...Object.keys(config), ...secretKeys];
    for (const deployment of [api, worker])
      names.push(...(container(deployment).env ?? []).map((e: Doc) => e.name));
    for (const variable of names) {
      expect({ variable, read: ENV_NAMES.includes(variable) }).toEqual({ variable, read: true });
    }
  });

  it('configures the schema defaults, except where a deployment needs otherwise, with values the schema accepts', () => {
    for (const [variable, value] of Object.entries(config)) {
      const expected = CONFIG_OVERRIDES[variable] ? value : ENV_DEFAULTS[variable];
      expect({ variable, value }).toEqual({ variable, value: expected });
    }
    const env = loadEnv({ ...config, GOOSEHERD_API_KEY: 'k'.repeat(16), GOOSEHERD_ENGINE_THREADS: '2' });
    expect(env.GOOSEHERD_DATA_DIR).toBe(config.GOOSEHERD_DATA_DIR);
  });

  it('takes the API keys from the Secret the overlay generates', () => {
    const secretRefs = container(api)
      .envFrom.filter((e: Doc) => e.secretRef)
      .map((e: Doc) => e.secretRef.name);
    expect(overlay.secretGenerator.map((s: Doc) => s.name)).toEqual(expect.arrayContaining(secretRefs));
    expect(secretKeys).toContain('GOOSEHERD_API_KEY');
    expect(container(api).envFrom.at(-1).secretRef).toBeDefined(); // last source wins over the ConfigMap
  });

  it('sets requests, limits and a locked-down security context on every container', () => {
    for (const workload of docs.filter((d) => d.kind === 'Deployment' || d.kind === 'StatefulSet')) {
      const pod = workload.spec.template.spec;
      expect({ name: workload.metadata.name, runAsNonRoot: pod.securityContext.runAsNonRoot }).toEqual({
        name: workload.metadata.name,
        runAsNonRoot: true,
      });
      for (const c of pod.containers) {
        expect(c.resources.requests).toEqual(
          expect.objectContaining({ cpu: expect.anything(), memory: expect.anything() }),
        );
        expect(c.resources.limits.memory).toBeDefined();
        expect(c.securityContext).toEqual(
          expect.objectContaining({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false }),
        );
      }
    }
  });

  it('gives the worker a writable GOOSEHERD_DATA_DIR and a read-only /models', () => {
    const mounts: Doc[] = container(worker).volumeMounts;
    const volumes: Doc[] = worker.spec.template.spec.volumes;
    const data = mounts.find((m) => m.mountPath === config.GOOSEHERD_DATA_DIR);
    expect(data?.readOnly).toBeFalsy();
    expect(volumes.find((v) => v.name === data!.name)?.emptyDir).toBeDefined();
    expect(mounts.find((m) => m.mountPath === '/models')?.readOnly).toBe(true);
  });

  it('derives the engine threads from the CPU limit', () => {
    const threads = container(worker).env.find((e: Doc) => e.name === 'GOOSEHERD_ENGINE_THREADS');
    expect(threads.valueFrom.resourceFieldRef).toEqual(expect.objectContaining({ resource: 'limits.cpu' }));
    expect(Number(container(worker).resources.limits.cpu)).toBeGreaterThanOrEqual(1);
  });

  it.each(['gooseherd-api', 'gooseherd-worker'])('protects %s with a PodDisruptionBudget', (name) => {
    const deployment = find('Deployment', name);
    const pdb = find('PodDisruptionBudget', name);
    expect(pdb.spec.selector.matchLabels).toEqual(deployment.spec.template.metadata.labels);
    expect(pdb.spec.minAvailable ?? pdb.spec.maxUnavailable).toBeGreaterThanOrEqual(1);
  });

  it('runs Redis as a StatefulSet with its append-only file on a PVC, behind the Service REDIS_URL names', () => {
    const redis = find('StatefulSet', 'gooseherd-redis');
    const c = container(redis);
    expect(c.args[c.args.indexOf('--appendonly') + 1]).toBe('yes');
    expect(c.args[c.args.indexOf('--maxmemory-policy') + 1]).toBe('noeviction');
    const claim = redis.spec.volumeClaimTemplates[0].metadata.name;
    expect(c.volumeMounts).toContainEqual({ name: claim, mountPath: c.args[c.args.indexOf('--dir') + 1] });
    const service = find('Service', redis.spec.serviceName);
    expect(new URL(config.REDIS_URL).hostname).toBe(service.metadata.name);
    expect(Number(new URL(config.REDIS_URL).port)).toBe(service.spec.ports[0].port);
  });

  it('caps Redis memory at about 75% of its container limit, evicting nothing (a full Redis answers OOM)', () => {
    const c = container(find('StatefulSet', 'gooseherd-redis'));
    expect(argAfter(c.args, '--maxmemory-policy')).toBe('noeviction');
    const maxmemory = redisMemoryBytes(argAfter(c.args, '--maxmemory') ?? '0');
    const limit = k8sMemoryBytes(String(c.resources.limits.memory ?? '0'));
    expect(limit).toBeGreaterThan(0);
    expect(maxmemory / limit).toBeGreaterThanOrEqual(0.7);
    expect(maxmemory / limit).toBeLessThanOrEqual(0.8);
  });
});

describe('deploy/k8s worker autoscaling (KEDA)', () => {
  const scaled = find('ScaledObject', 'gooseherd-worker');
  const trigger = scaled.spec.triggers[0];

  it('scales the worker Deployment', () => {
    expect(scaled.apiVersion).toBe('keda.sh/v1alpha1');
    expect(scaled.spec.scaleTargetRef.name).toBe(worker.metadata.name);
    expect(scaled.spec.minReplicaCount).toBeGreaterThanOrEqual(1);
  });

  it("reads the API's queue gauge, which counts prioritized jobs (BullMQ's wait list stays empty)", () => {
    expect(trigger.type).toBe('metrics-api');
    expect(trigger.metadata.format).toBe('prometheus');
    expect(readText('apps/api/src/observability/metrics.ts')).toContain(
      `name: '${trigger.metadata.valueLocation}'`,
    );
    expect(readText('libs/queue/src/segment-queue.ts')).toMatch(/getJobCounts\('wait', 'prioritized'/);
  });

  it('finds the API Service by its full name in the overlay namespace', () => {
    const url = new URL(trigger.metadata.url);
    const service = find('Service', 'gooseherd-api');
    expect(url.hostname).toBe(`${service.metadata.name}.${overlay.namespace}.svc.cluster.local`);
    expect(Number(url.port)).toBe(service.spec.ports[0].port);
    expect(apiGetRoutes()).toContain(url.pathname);
  });
});

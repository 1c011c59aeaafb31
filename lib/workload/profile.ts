// A workload profile: which StatefulSet the behaviours deploy and fault, and what only its author
// knows about it (its server process, its probe's program, how to write a marker and read it back).
// The seed's MySQL is the default; profiles/<name>.yaml are ours, any other file is a user's own
// (docs in README, "Workload profiles"). LAB_PROFILE (or `npm run scenario -- --profile`) picks one.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import type { KubernetesObject, V1Service, V1StatefulSet } from '@kubernetes/client-node';
import { parse, parseAllDocuments } from 'yaml';
import { REPO_ROOT } from '../cluster/paths.ts';
import { TARGET } from '../cluster/target.ts';

export interface Profile {
  name: string;
  file: string;
  description: string;
  /** Everything a run creates for the workload, the StatefulSet and its headless Service among them. */
  objects: KubernetesObject[];
  statefulSet: string;
  service: string;
  container: string;
  claimTemplate: string;
  /** The workload container's image by image mode, replacing the manifest's; `build` makes the
   * air-gapped one (a script run and its image loaded into the nodes before a run). */
  image?: { airgapped: string; stock: string; build?: string };
  /** pgrep's pattern for its server process on a node (counted after a node loss). */
  process: string;
  /** The program its readiness probe runs: slowed past the probe's timeout to take a pod out of rotation. */
  probe?: string;
  /** Shell scripts run with HOST (<pod>.<service>) and MARKER set: `in` the client pod's `marker`
   * container (the workload's image and env) or in the pod itself. `read` prints the marker. */
  marker: { in: 'client' | 'pod'; write: string; read: string };
  /** What a second server logs when it finds the volume held by the first (partition's force delete). */
  secondWriter?: RegExp;
}

const fail = (file: string, what: string): never => {
  throw new Error(`profile ${file}: ${what} (see README, "Workload profiles")`);
};

/** LAB_PROFILE: a name in profiles/ or a path to a profile file; default the seed's MySQL. */
export function profilePath(given = process.env.LAB_PROFILE): string {
  const choice = given || 'mysql';
  const named = join(REPO_ROOT, 'profiles', `${choice}.yaml`);
  if (/^[a-z0-9-]+$/.test(choice) && existsSync(named)) return named;
  const file = resolve(choice);
  if (!existsSync(file))
    throw new Error(
      `LAB_PROFILE=${choice}: no profiles/${choice}.yaml and no such file; name one of profiles/ or give a profile file's path`,
    );
  return file;
}

/** The deployed StatefulSet and its Service, as objects to re-create in the lab's namespace: the
 * user's own stays untouched, only read (one GET each). */
function copyDeployed(file: string, namespace: string, name: string): KubernetesObject[] {
  const get = (kind: string, n: string) => {
    const args = ['--kubeconfig', TARGET.kubeconfig, '--context', TARGET.context];
    const r = spawnSync('kubectl', [...args, 'get', kind, n, '-n', namespace, '-o', 'json'], {
      encoding: 'utf8',
    });
    if (r.status !== 0)
      fail(file, `cannot read ${kind} ${namespace}/${n} on ${TARGET.context}: ${r.stderr.trim()}`);
    const o = JSON.parse(r.stdout) as KubernetesObject & { spec?: object; status?: unknown };
    return {
      apiVersion: o.apiVersion,
      kind: o.kind,
      metadata: { name: n, labels: o.metadata?.labels },
      spec: o.spec,
    };
  };
  const sts = get('statefulset', name) as V1StatefulSet;
  const service = get('service', sts.spec!.serviceName!) as V1Service;
  // A copy gets its own addresses; the headless one stays headless.
  service.spec = {
    ...service.spec,
    clusterIPs: undefined,
    clusterIP: service.spec?.clusterIP === 'None' ? 'None' : undefined,
  };
  return [service, sts];
}

export function loadProfile(file = profilePath()): Profile {
  const raw = parse(readFileSync(file, 'utf8')) ?? {};
  const at = (p: string) => (isAbsolute(p) ? p : resolve(dirname(file), p));
  const str = (v: unknown, what: string) =>
    typeof v === 'string' && v.trim() ? v : fail(file, `${what} must be a non-empty string`);
  const extra: KubernetesObject[] = ((raw.manifests ?? []) as string[]).flatMap((m) =>
    parseAllDocuments(readFileSync(at(m), 'utf8'))
      .map((d) => d.toJS())
      .filter(Boolean),
  );
  const deployed = raw.deployed as { namespace?: string; statefulSet?: string } | undefined;
  const objects = deployed
    ? [
        ...extra,
        ...copyDeployed(
          file,
          str(deployed.namespace, 'deployed.namespace'),
          str(deployed.statefulSet, 'deployed.statefulSet'),
        ),
      ]
    : extra;
  const sets = objects.filter((o) => o.kind === 'StatefulSet') as V1StatefulSet[];
  if (sets.length !== 1)
    fail(file, `its manifests (or deployed) must give exactly one StatefulSet, found ${sets.length}`);
  const sts = sets[0]!;
  const service =
    sts.spec?.serviceName ?? fail(file, `StatefulSet ${sts.metadata?.name} names no serviceName`);
  const svc = objects.find((o) => o.kind === 'Service' && o.metadata?.name === service) as
    V1Service | undefined;
  if (svc?.spec?.clusterIP !== 'None')
    fail(file, `no headless Service ${service} (clusterIP: None) among its objects`);
  const containers = sts.spec!.template.spec?.containers ?? [];
  const container = raw.container ?? containers[0]?.name;
  if (!containers.some((c) => c.name === container))
    fail(file, `the StatefulSet has no container ${container}`);
  const claimTemplate =
    sts.spec!.volumeClaimTemplates?.[0]?.metadata?.name ??
    fail(file, 'the StatefulSet has no volumeClaimTemplates: nothing of a pod outlives it');
  const process = str(raw.process, 'process');
  if (!/^[A-Za-z0-9_.|-]+$/.test(process))
    fail(file, `process '${process}' must be a pgrep pattern of names (letters, digits, _ . - and |)`);
  const marker = raw.marker ?? {};
  if (marker.in !== 'client' && marker.in !== 'pod') fail(file, 'marker.in must be client or pod');
  const image = raw.image && {
    airgapped: str(raw.image.airgapped, 'image.airgapped'),
    stock: str(raw.image.stock, 'image.stock'),
    build: raw.image.build && at(raw.image.build),
  };
  return {
    name: basename(file).replace(/\.ya?ml$/, ''),
    file,
    description: raw.description ?? '',
    objects,
    statefulSet: sts.metadata!.name!,
    service,
    container,
    claimTemplate,
    image,
    process,
    probe: raw.probe,
    marker: {
      in: marker.in,
      write: str(marker.write, 'marker.write'),
      read: str(marker.read, 'marker.read'),
    },
    secondWriter: raw.secondWriter ? new RegExp(raw.secondWriter, 'i') : undefined,
  };
}

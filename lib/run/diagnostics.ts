// On failure, a bundle that lets someone see what the cluster did without re-running:
// artifacts/<run>/<scenario>/ with the recorded timeline, the YAML of the scenario's pods, PVCs,
// StatefulSets, their PVs and every Node, the namespace's events, container logs, and the kubelet
// journal of the nodes involved. Each piece is collected on its own: one that fails (a stopped
// node cannot give its journal) is noted in errors.txt and the rest still gets written.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Kube } from '../cluster/kube.ts';
import { kindNodes, type NodeFaultProvider } from '../cluster/kind-nodes.ts';
import { ARTIFACTS_DIR, RUN_ID } from '../cluster/paths.ts';
import type { Recorder } from '../observe/recorder.ts';
import { timelineRows } from '../report/results.ts';

export function diagnosticsDir(scenario: string, run = RUN_ID): string {
  return join(ARTIFACTS_DIR, run, scenario.replace(/[^\w.-]+/g, '-'));
}

export interface DiagnosticsInput {
  kube: Kube;
  namespace: string;
  dir: string;
  rec?: Recorder;
  /** Nodes whose kubelet journal belongs in the bundle (the victim, the pod's new node...). */
  nodes?: Iterable<string>;
  provider?: NodeFaultProvider;
  /** Also every node's full logs (`kind export logs`, tens of MB) under kind-logs/; LAB_EXPORT_LOGS=1. */
  allNodeLogs?: boolean;
}

/** Writes the bundle; returns the files written. Never throws for one missing piece. */
export async function collectDiagnostics(input: DiagnosticsInput): Promise<string[]> {
  const { kube, namespace: ns, dir } = input;
  const provider = input.provider ?? kindNodes;
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  const errors: string[] = [];
  const piece = async (file: string, make: () => Promise<string> | string) => {
    try {
      writeFileSync(join(dir, file), await make());
      written.push(file);
    } catch (err) {
      errors.push(`${file}: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  const yaml = (items: unknown[]) => items.map((i) => stringify(i)).join('---\n');

  const rec = input.rec;
  if (rec) await piece('timeline.json', () => JSON.stringify(timelineRows(rec.events), null, 1) + '\n');
  const pods = await kube.core.listNamespacedPod({ namespace: ns }).catch(() => undefined);
  await piece('pods.yaml', () => yaml(pods?.items ?? []));
  const pvcs = await kube.core.listNamespacedPersistentVolumeClaim({ namespace: ns }).catch(() => undefined);
  await piece('pvcs.yaml', () => yaml(pvcs?.items ?? []));
  await piece('statefulsets.yaml', async () =>
    yaml((await kube.apps.listNamespacedStatefulSet({ namespace: ns })).items),
  );
  await piece('pvs.yaml', async () => {
    const mine = new Set((pvcs?.items ?? []).map((c) => c.spec?.volumeName).filter(Boolean));
    return yaml((await kube.core.listPersistentVolume()).items.filter((pv) => mine.has(pv.metadata?.name)));
  });
  await piece('deployments.yaml', async () =>
    yaml((await kube.apps.listNamespacedDeployment({ namespace: ns })).items),
  );
  await piece('services.yaml', async () =>
    yaml((await kube.core.listNamespacedService({ namespace: ns })).items),
  );
  await piece('endpointslices.yaml', async () =>
    yaml((await kube.objects.list('discovery.k8s.io/v1', 'EndpointSlice', ns)).items),
  );
  await piece('nodes.yaml', async () => yaml((await kube.core.listNode()).items));
  await piece('events.txt', async () => {
    const events = (await kube.core.listNamespacedEvent({ namespace: ns })).items;
    const when = (e: (typeof events)[number]) =>
      String(e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata?.creationTimestamp ?? '');
    return events
      .sort((a, b) => when(a).localeCompare(when(b)))
      .map(
        (e) =>
          `${when(e)} ${e.type} ${e.reason} ${e.involvedObject.kind}/${e.involvedObject.name}: ${e.message}`,
      )
      .join('\n');
  });
  for (const pod of pods?.items ?? []) {
    const name = pod.metadata!.name!;
    for (const c of pod.spec?.containers ?? []) {
      await piece(`logs/${name}_${c.name}.log`, async () => {
        mkdirSync(join(dir, 'logs'), { recursive: true });
        return kube.core.readNamespacedPodLog({ namespace: ns, name, container: c.name, tailLines: 500 });
      });
      if ((pod.status?.containerStatuses ?? []).some((s) => s.name === c.name && s.restartCount > 0)) {
        await piece(`logs/${name}_${c.name}.previous.log`, () =>
          kube.core.readNamespacedPodLog({
            namespace: ns,
            name,
            container: c.name,
            previous: true,
            tailLines: 500,
          }),
        );
      }
    }
  }
  for (const node of new Set(input.nodes ?? [])) {
    await piece(`kubelet-${node}.log`, () => provider.kubeletJournal(node));
  }
  if (input.allNodeLogs ?? process.env.LAB_EXPORT_LOGS === '1') {
    try {
      await provider.exportLogs(join(dir, 'kind-logs'));
      written.push('kind-logs/');
    } catch (err) {
      errors.push(`kind-logs/: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (errors.length) writeFileSync(join(dir, 'errors.txt'), errors.join('\n') + '\n');
  return written;
}

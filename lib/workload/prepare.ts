// Before a run of a profile whose image is built here (air-gapped): build it (cached by its script)
// and load it into the lab cluster's nodes that lack it. Stock images, a cluster of your own and
// LAB_WORKLOAD_IMAGE are pulled by the kubelets instead: nothing to do.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { $ } from 'zx';
import { chooseImages, labNodeContainers, loadOntoNodes, parseVersions } from '../cluster/images.ts';
import { proveOwnership } from '../cluster/ownership.ts';
import { REPO_ROOT } from '../cluster/paths.ts';
import { TARGET } from '../cluster/target.ts';
import type { Profile } from './profile.ts';

export async function prepareWorkloadImage(profile: Profile, log: (line: string) => void): Promise<void> {
  const versions = parseVersions(readFileSync(join(REPO_ROOT, 'scripts/versions.env'), 'utf8'));
  const mode = chooseImages(process.env, versions).mode;
  const build = profile.image?.build;
  if (!build || TARGET.foreign || mode !== 'airgapped' || process.env.LAB_WORKLOAD_IMAGE) return;
  const t0 = performance.now();
  const built = (await $({ stdio: ['ignore', 'pipe', 'inherit'] })`bash ${build}`).stdout
    .trim()
    .split('\n')
    .at(-1);
  if (built !== profile.image!.airgapped)
    throw new Error(
      `profile ${profile.name}: ${build} built ${built}, but image.airgapped says ${profile.image!.airgapped}: make them name the same tag`,
    );
  const nodes = await labNodeContainers();
  await proveOwnership(nodes, `load the ${profile.name} profile's image`);
  const loaded = await loadOntoNodes(nodes, [built]);
  const took = ((performance.now() - t0) / 1000).toFixed(1);
  log(`${built} on ${nodes.length} nodes (${loaded.length ? 'loaded now' : 'already there'}; ${took}s)`);
}

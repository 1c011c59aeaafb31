// Every behaviour, by name. The suite runs them in workshop order (labs/catalog.ts), `npm run lab --
// <name>` runs one. Adding a behaviour: its file here, its name in LAB_NAMES, its words in
// labs/<name>/text.yaml (docs/architecture.md).
import type { Behaviour } from '../lib/behaviour/model.ts';
import { LAB_NAMES, type LabName } from '../labs/catalog.ts';
import { headlessDns } from './headless-dns.ts';
import { naming } from './naming.ts';
import { nodeStop } from './node-stop.ts';
import { ordinals } from './ordinals.ts';
import { partition } from './partition.ts';
import { podLoss } from './pod-loss.ts';
import { pvcProtection } from './pvc-protection.ts';
import { pvcRetention } from './pvc-retention.ts';

export const BEHAVIOURS: Record<LabName, Behaviour> = {
  naming,
  'headless-dns': headlessDns,
  'pod-loss': podLoss,
  ordinals,
  'pvc-retention': pvcRetention,
  'pvc-protection': pvcProtection,
  'node-stop': nodeStop,
  partition,
};

export const behavioursInOrder = (): Behaviour[] => LAB_NAMES.map((name) => BEHAVIOURS[name]);

// The labs in the order a workshop takes them, and where their words live. Light on purpose: listing
// labs, the docs and the text tests need no cluster client.
import { join } from 'node:path';
import { loadLabText, loadUiText, type LabText, type UiText } from '../lib/lab/text.ts';

export const LAB_NAMES = [
  'naming',
  'headless-dns',
  'pod-loss',
  'ordinals',
  'pvc-retention',
  'pvc-protection',
  'node-stop',
  'partition',
] as const;
export type LabName = (typeof LAB_NAMES)[number];

export const LABS_DIR = import.meta.dirname;
export const UI_TEXT_PATH = join(LABS_DIR, 'ui.yaml');
export const labTextPath = (name: string) => join(LABS_DIR, name, 'text.yaml');

export function loadTexts(): LabText[] {
  return LAB_NAMES.map((n) => loadLabText(labTextPath(n), n));
}

export function loadUi(): UiText {
  return loadUiText(UI_TEXT_PATH);
}

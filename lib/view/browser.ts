// Debian's chromium for the live view's benchmark and the browser tests: installed by
// scripts/chromium.sh when missing, run headless, off the network and out of the user's profile.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../cluster/paths.ts';

/** The browser's path; installs it first when missing (a first install downloads from Debian's mirrors). */
export function chromiumPath(): string {
  const t0 = performance.now();
  const out = execFileSync('bash', [join(REPO_ROOT, 'scripts', 'chromium.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const chromium = out.trim().split('\n').at(-1)!;
  console.log(`    chromium: ${chromium} (ready in ${((performance.now() - t0) / 1000).toFixed(1)}s)`);
  return chromium;
}

/** Flags that keep Chromium off the network and out of the user's profile: every host name and
 * address but 127.0.0.1 (the live view's server) fails to resolve, and any proxied request goes to a
 * closed loopback port. */
export function offlineFlags(profile: string, width: number, height: number): string[] {
  return [
    '--headless',
    '--disable-gpu',
    '--no-sandbox',
    `--user-data-dir=${profile}`,
    '--no-first-run',
    '--no-default-browser-check',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-default-apps',
    '--disable-extensions',
    '--disable-breakpad',
    '--disable-client-side-phishing-detection',
    '--disable-domain-reliability',
    '--metrics-recording-only',
    '--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication',
    '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
    '--proxy-server=127.0.0.1:9',
    '--hide-scrollbars',
    `--window-size=${width},${height}`,
  ];
}

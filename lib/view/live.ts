// The live view: a page on loopback that draws a run's timeline while it happens — the report's own
// picture (node lanes, a bar per pod UID with its IP, PVCs, faults, verdicts), built from the
// recorder's events as they arrive — with the current step's words beside it, large enough for a
// projector. Updates go to the page as server-sent events; a reload renders the state of now; when
// the run ends the page is replaced by the report. No external assets: it works offline.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RUN_ID } from '../cluster/paths.ts';
import type { RecordedEvent } from '../observe/recorder.ts';
import type { ScenarioData, Verdict } from '../report/data.ts';
import { liveSection, REPORT_CSS } from '../report/html.ts';
import { escapeXml as esc, timelineRows } from '../report/results.ts';
import type { Run } from '../run/run.ts';

/** The words of the step on screen: its title and lines such as "what happens" and "prediction". */
export interface StepWords {
  title: string;
  lines: Array<[label: string, text: string]>;
}

/** How long after the recorder saw an event the page showed it (the page's own clock, same host). */
export interface Shown {
  resource: string;
  type: string;
  name: string;
  /** A pod marked for deletion or deleted: what a workshop watches for. */
  deletion: boolean;
  ms: number;
}

/** Coalesces bursts of events into one update; well under the 1 s a viewer should wait. */
const UPDATE_DELAY_MS = 50;

const PAGE_CSS = `
body{font-size:18px}main{max-width:none;padding:12px 20px}
.live{display:grid;grid-template-columns:minmax(320px,28%) 1fr;gap:16px;align-items:start}
.words h2{font-size:26px;margin:0 0 10px}.words dt{font-weight:700;color:#5f6b7a;margin-top:10px}
#picture svg.timeline{width:100%}
.words dd{margin:2px 0 0;font-size:20px}.status{color:#5f6b7a;font-size:14px}
`;

/** The page's script: apply each update, tell the server when it was shown, reconnect on its own. */
const SCRIPT = `
// Connected after the load event: the page as served is complete by itself (a snapshot of now).
addEventListener('load', () => setTimeout(follow));
function follow() {
const source = new EventSource('/events');
source.addEventListener('update', (e) => {
  const m = JSON.parse(e.data);
  document.getElementById('words').innerHTML = m.words;
  document.getElementById('picture').innerHTML = m.picture;
  const shownAt = Date.now();
  fetch('/shown', { method: 'POST', body: JSON.stringify({ seq: m.seq, shownAt }) }).catch(() => {});
});
source.addEventListener('report', (e) => {
  source.close();
  const shownAt = Date.now();
  fetch('/shown', { method: 'POST', body: JSON.stringify({ report: true, shownAt }) }).finally(() => {
    document.open(); document.write(JSON.parse(e.data).html); document.close();
  });
});
}`;

export class LiveView {
  readonly shown: Shown[] = [];
  private words: StepWords | undefined;
  private readonly verdicts: Verdict[] = [];
  private readonly clients = new Set<ServerResponse>();
  /** Per update sent: the events it was the first to show. */
  private readonly pending = new Map<number, RecordedEvent[]>();
  private seq = 0;
  private sentUpTo = 0;
  private timer: NodeJS.Timeout | undefined;
  private report: string | undefined;
  private finishedAt = 0;
  private readonly unsubscribe: () => void;
  private readonly shownListeners = new Set<() => void>();

  private readonly run: Run;
  private readonly title: string;
  private readonly server: Server;
  readonly url: string;

  private constructor(run: Run, title: string, server: Server, url: string) {
    [this.run, this.title, this.server, this.url] = [run, title, server, url];
    this.unsubscribe = run.ctx.rec.onEvent(() => this.schedule());
    this.sentUpTo = run.ctx.rec.events.length;
  }

  /** Serves the view of `run` on 127.0.0.1:`port` (LAB_VIEW_PORT, default 7070; 0: any free port). */
  static async open(run: Run, title: string, port = Number(process.env.LAB_VIEW_PORT ?? 7070)) {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(
          err.code === 'EADDRINUSE'
            ? new Error(`the live view's port ${port} is taken: set LAB_VIEW_PORT to a free one`)
            : err,
        ),
      );
      server.listen(port, '127.0.0.1', resolve);
    });
    const address = server.address() as AddressInfo;
    const view = new LiveView(run, title, server, `http://127.0.0.1:${address.port}/`);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => view.handle(req, res));
    return view;
  }

  /** Resolves once a page has shown an event that `is` (its answer arrived), or fails after `seconds`. */
  whenShown(is: (s: Shown) => boolean, seconds: number): Promise<Shown> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.shown.find(is);
        if (!found) return;
        this.shownListeners.delete(check);
        clearTimeout(timer);
        resolve(found);
      };
      const timer = setTimeout(() => {
        this.shownListeners.delete(check);
        reject(
          new Error(
            `no page showed the awaited event within ${seconds}s (${this.clients.size} page(s) connected)`,
          ),
        );
      }, seconds * 1000);
      this.shownListeners.add(check);
      check();
    });
  }

  step(words: StepWords): void {
    this.words = words;
    this.schedule();
  }

  verdict(v: Verdict): void {
    this.verdicts.push(v);
    this.schedule();
  }

  /** The run is over: every page turns into the report (and a reload shows it too). */
  finish(reportHtml: string): void {
    this.report = reportHtml;
    this.finishedAt = Date.now();
    clearTimeout(this.timer);
    for (const c of this.clients) c.write(`event: report\ndata: ${JSON.stringify({ html: reportHtml })}\n\n`);
  }

  /** Stops serving; after `finish`, once the open pages have the report (at most `seconds`). */
  async close(seconds = 5): Promise<void> {
    const pages = this.clients.size;
    const answered = () => this.shown.filter((s) => s.resource === 'report').length >= pages;
    if (this.report && pages && !answered()) await this.whenShown(answered, seconds).catch(() => undefined); // a closed tab never answers
    clearTimeout(this.timer);
    this.unsubscribe();
    for (const c of this.clients) c.end();
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }

  private schedule(): void {
    if (this.report || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.push();
    }, UPDATE_DELAY_MS);
  }

  private push(): void {
    const events = this.run.ctx.rec.events;
    const seq = ++this.seq;
    this.pending.set(seq, events.slice(this.sentUpTo));
    this.sentUpTo = events.length;
    const message = JSON.stringify({ seq, words: this.wordsHtml(), picture: this.pictureHtml() });
    for (const c of this.clients) c.write(`event: update\ndata: ${message}\n\n`);
    // A page that never answers must not make the server keep every update's events.
    for (const old of this.pending.keys()) if (old < seq - 50) this.pending.delete(old);
  }

  /** The run as the report's data, as of now. */
  private data(): ScenarioData {
    const { ctx, startedAt } = this.run;
    const meta = { name: ctx.name, run: RUN_ID, namespace: ctx.ns, startedAt, endedAt: Date.now() };
    return {
      dir: ctx.name,
      meta: { ...meta, verdicts: [...this.verdicts] },
      rows: timelineRows(ctx.rec.events),
      story: [...this.run.story],
      faults: [...ctx.faults.injected],
      diagnostics: [],
      files: [],
      legacy: false,
    };
  }

  private wordsHtml(): string {
    const w = this.words;
    if (!w) return `<h2>${esc(this.title)}</h2><p class="status">preparing…</p>`;
    const lines = w.lines.map(([label, text]) => `<dt>${esc(label)}</dt><dd>${esc(text)}</dd>`).join('');
    return `<p class="status">${esc(this.title)}</p><h2>${esc(w.title)}</h2><dl>${lines}</dl>`;
  }

  private pictureHtml(): string {
    return liveSection(this.data());
  }

  private page(): string {
    return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(this.title)} (live)</title>
<style>${REPORT_CSS}${PAGE_CSS}</style></head><body><main class="live">
<aside class="words" id="words">${this.wordsHtml()}</aside><div id="picture">${this.pictureHtml()}</div>
</main><script>${SCRIPT}</script></body></html>`;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    if (req.method === 'GET' && req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(this.report ?? this.page());
    } else if (req.method === 'GET' && req.url === '/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
      res.write('retry: 1000\n\n');
      this.clients.add(res);
      req.on('close', () => this.clients.delete(res));
    } else if (req.method === 'POST' && req.url === '/shown') {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        this.record(body);
        res.writeHead(204).end();
      });
    } else res.writeHead(404).end();
  }

  private record(body: string): void {
    try {
      const { seq, shownAt, report } = JSON.parse(body) as { seq: number; shownAt: number; report?: boolean };
      if (report) {
        const ms = shownAt - this.finishedAt;
        this.shown.push({ resource: 'report', type: 'shown', name: '', deletion: false, ms });
      }
      for (const e of this.pending.get(seq) ?? []) {
        const deletion =
          e.resource === 'pods' && (e.type === 'DELETED' || !!e.object.metadata?.deletionTimestamp);
        this.shown.push({ resource: e.resource, type: e.type, name: e.name, deletion, ms: shownAt - e.at });
      }
      this.pending.delete(seq); // a second page's answer for the same update is not counted again
      for (const listener of [...this.shownListeners]) listener();
    } catch {
      // Not an answer from our page: nothing to count.
    }
  }
}

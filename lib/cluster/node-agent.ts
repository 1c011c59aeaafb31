// Node faults through the Kubernetes API alone (no Docker): a short-lived privileged pod on the
// target node hands the fault to a watchdog that runs on the node itself, as a transient systemd
// unit. The watchdog applies the fault, and undoes it at its deadline whatever happens to the
// harness: a laptop that closes mid-fault never leaves a node down. While the node can still reach
// the API server (a stopped kubelet does not cut the network), the harness moves the deadline
// through a ConfigMap the watchdog reads: later to extend, now to end. A cut-off node cannot be
// reached, so a partition ends at the deadline planned when it began.
import { randomBytes } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import type { V1Pod } from '@kubernetes/client-node';
import type { Kube } from './kube.ts';
import { NAMESPACE_LABEL, RUN_ID } from './paths.ts';

/** Where agent pods and their control ConfigMaps live: the harness's own labelled namespace. */
export const AGENT_NAMESPACE = 'statefulset-lab-agents';
const AGENT_ACCOUNT = 'node-agent';
const AGENT_LABEL = 'statefulset-lab/agents';
/** On the node: the watchdog's files, and the name of its systemd unit and of the cut's nft table. */
const HOST_DIR = '/run/statefulset-lab';
export const unitOf = (id: string) => `statefulset-lab-fault-${id}`;
export const CUT_TABLE = 'statefulset_lab_cut';

export type NodeFaultKind = 'stop' | 'cut';

export interface ArmedFault {
  id: string;
  node: string;
  kind: NodeFaultKind;
  /** Wall clock (ms) at which the node ends the fault by itself. */
  deadline: number;
}

/**
 * A node's power cut and power-on, as shell functions run on the node: the stop's apply and undo,
 * and a reboot in one go.
 */
export const POWER_CUT = String.raw`pods_slice() {
  systemctl list-units --type=slice --all --plain --no-legend | awk '{print $1}' |
    grep -E '^([a-z0-9]+-)?kubepods\.slice$' | head -n 1
}
power_off() {
  systemctl stop kubelet
  # Every pod process dies at once, as in a power cut; then the runtime stops.
  s=$(pods_slice)
  if [ -n "$s" ]; then systemctl kill --signal=SIGKILL "$s"; systemctl stop "$s"; fi
  systemctl stop containerd
}
power_on() {
  # A node that powers on has none of the interfaces its pods' network made: drop them, so the
  # network plugin makes them anew (with a new pod range, if the Node was registered afresh).
  for l in cni0 flannel.1; do ip link delete "$l" 2>/dev/null; done
  systemctl start containerd
  systemctl start kubelet
}`;

/** Seconds between the watchdog's looks at its deadline: it undoes a fault at most this late. */
export const WATCHDOG_PERIOD = 1;

/**
 * The watchdog, run by the node's systemd. It reads its control ConfigMap every second with the
 * agent's token (read-only, that one object): `go` starts the fault, `deadline` (epoch seconds) ends
 * it. Unreachable API (the node is cut off): the last deadline it read holds. The ConfigMap gone,
 * or the token refused: nobody holds the fault any more, so it ends now.
 * No read may outlast the deadline: a cut node does not ask at all (nobody could answer, and a
 * read left to time out made the undo late), and a read near the deadline gets only what is left.
 */
const WATCHDOG = String.raw`set -u
dir=${HOST_DIR}/$ID
bin=$(cat "$dir/bin" 2>/dev/null || true)
kubectl=$bin/kubectl; [ -n "$bin" ] && [ -x "$kubectl" ] || kubectl=$(command -v kubectl)
echo "reads its deadline with $kubectl"
deadline=$(cat "$dir/deadline"); go=; on=
ask() {
  left=$((deadline - $(date +%s))); [ "$left" -gt 0 ] || return 2
  "$kubectl" --server "$(cat "$dir/server")" --certificate-authority "$dir/ca.crt" \
    --token "$(cat "$dir/token")" --request-timeout "$((left < 2 ? left : 2))s" -n ${AGENT_NAMESPACE} \
    get configmap "fault-$ID" -o 'jsonpath={.data.deadline} {.data.go}' 2>"$dir/ask.err"
}
${POWER_CUT}
apply() {
  echo "applying $KIND"
  case $KIND in
  stop)
    power_off ;;
  cut)
    nft -f - <<EOF
table inet ${CUT_TABLE} {
  chain in { type filter hook prerouting priority -450; iifname "$DEV" drop; }
  chain out { type filter hook postrouting priority -450; oifname "$DEV" drop; }
}
EOF
    ;;
  esac
  on=1
}
undo() {
  echo "undoing $KIND"
  case $KIND in
  stop) power_on ;;
  cut) nft delete table inet ${CUT_TABLE} ;;
  esac
}
while :; do
  if [ -n "$on" ] && [ "$KIND" = cut ]; then :
  elif reply=$(ask); then
    d=$(echo "$reply" | cut -d' ' -f1); go=$(echo "$reply" | cut -s -d' ' -f2)
    [ -n "$d" ] && deadline=$d
  elif grep -qE 'NotFound|Unauthorized|Forbidden' "$dir/ask.err"; then
    echo "control object gone: ending now"; deadline=0
  fi
  [ -z "$on" ] && [ "$go" = 1 ] && [ "$(date +%s)" -lt "$deadline" ] && apply
  # What runs on the node while nobody can look: read back once it returns (processesDuring).
  [ -n "$on" ] && [ -n "$WATCH" ] && echo "seen $(date +%s%3N) $(pgrep -c "$WATCH")"
  if [ "$(date +%s)" -ge "$deadline" ]; then
    [ -n "$on" ] && undo
    [ -n "$bin" ] && rm -rf "$bin"
    rm -rf "$dir"; echo "ended at $(date +%s)"; exit 0
  fi
  sleep ${WATCHDOG_PERIOD}
done
`;

/** The agent's own script: hand the watchdog its files and start it on the host, then exit. */
const ARM = String.raw`set -eu
d=/host-run/$ID; mkdir -p "$d"
cp /var/run/secrets/kubernetes.io/serviceaccount/token /var/run/secrets/kubernetes.io/serviceaccount/ca.crt "$d/"
echo "https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT" > "$d/server"
echo "$DEADLINE" > "$d/deadline"
printf '%s' "$WATCHDOG" > "$d/watchdog.sh"
host() { nsenter -t 1 -m -u -i -n -p -- "$@"; }
# The agent's static kubectl, for nodes without one, where the node lets it run: /run is often noexec.
if k=$(command -v kubectl); then
  for x in /var/lib/statefulset-lab /opt/statefulset-lab /home/kubernetes/statefulset-lab; do
    if host sh -c "mkdir -p $x/$ID && cat > $x/$ID/kubectl && chmod 0755 $x/$ID/kubectl && $x/$ID/kubectl version --client" < "$k" >/dev/null 2>&1
    then echo "$x/$ID" > "$d/bin"; break; fi
    host rm -rf "$x/$ID"
  done
fi
[ -s "$d/bin" ] || host sh -c 'command -v kubectl >/dev/null' ||
  { echo "no kubectl on the node, and the agent image's cannot run there: the watchdog could not read its deadline" >&2; exit 3; }
[ "$KIND" = stop ] || host sh -c 'command -v nft >/dev/null' || { echo "no nft on the node: cannot cut it off" >&2; exit 3; }
host systemd-run --unit ${unitOf('$ID')} --property Restart=on-failure \
  --setenv ID="$ID" --setenv KIND="$KIND" --setenv DEV="$DEV" --setenv WATCH="$WATCH" sh ${HOST_DIR}/$ID/watchdog.sh
host systemctl is-active ${unitOf('$ID')}
`;

const gone = (err: unknown) => (err as { code?: number }).code === 404;
const exists = (err: unknown) => (err as { code?: number }).code === 409;
const createOnce = (p: Promise<unknown>) =>
  p.catch((err: unknown) => {
    if (!exists(err)) throw err;
  });

/** The agents' namespace (privileged pods allowed), its read-only account and role; idempotent. */
async function ensureAgentAccount(kube: Kube): Promise<void> {
  const namespace = AGENT_NAMESPACE;
  await createOnce(
    kube.core.createNamespace({
      body: {
        metadata: {
          name: namespace,
          // Not a run's namespace (no run label): the stale-namespace sweep must never take it while a
          // watchdog still reads its control object there.
          labels: { [AGENT_LABEL]: 'true', 'pod-security.kubernetes.io/enforce': 'privileged' },
        },
      },
    }),
  );
  const rbac = kube.kc.makeApiClient(k8s.RbacAuthorizationV1Api);
  await createOnce(
    kube.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: AGENT_ACCOUNT } } }),
  );
  const name = AGENT_ACCOUNT;
  await createOnce(
    rbac.createNamespacedRole({
      namespace,
      body: { metadata: { name }, rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get'] }] },
    }),
  );
  await createOnce(
    rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
        subjects: [{ kind: 'ServiceAccount', name, namespace }],
      },
    }),
  );
}

/** A privileged pod on the node, in its host's PID and network namespaces, running one script. */
function agentPod(
  name: string,
  node: string,
  image: string,
  script: string,
  env: Record<string, string>,
): V1Pod {
  return {
    metadata: { name, labels: { 'statefulset-lab/agent': node, [NAMESPACE_LABEL]: RUN_ID } },
    spec: {
      nodeName: node,
      serviceAccountName: AGENT_ACCOUNT,
      hostPID: true,
      hostNetwork: true,
      restartPolicy: 'Never',
      tolerations: [{ operator: 'Exists' }],
      containers: [
        {
          name: 'agent',
          image,
          imagePullPolicy: 'IfNotPresent',
          command: ['sh', '-c', script],
          env: Object.entries(env).map(([k, value]) => ({ name: k, value })),
          securityContext: { privileged: true },
          volumeMounts: [{ name: 'run', mountPath: '/host-run' }],
        },
      ],
      volumes: [{ name: 'run', hostPath: { path: HOST_DIR, type: 'DirectoryOrCreate' } }],
    },
  };
}

/**
 * Waits on a watch of one object until `test` holds. A watch that ends (client-node ends one after
 * 30 s without an event, as a cut-off node's goes quiet) is followed by a fresh read, which may
 * already hold, and a new watch from its resourceVersion, until the bound.
 */
export async function awaitObject<T extends k8s.KubernetesObject>(
  kube: Kube,
  o: { path: string; name: string; read: () => Promise<T | undefined> },
  test: (obj: T) => boolean,
  seconds: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const now = await o.read();
    if (now && test(now)) return now;
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`${what}: not within ${seconds}s`);
    const seen = await new Promise<T | undefined>((resolve) => {
      let req: { abort(): void } | undefined;
      const end = (found?: T) => {
        clearTimeout(timer);
        req?.abort();
        resolve(found);
      };
      const timer = setTimeout(() => end(), left);
      const rv = now?.metadata?.resourceVersion;
      void new k8s.Watch(kube.kc)
        .watch(
          o.path,
          { fieldSelector: `metadata.name=${o.name}`, ...(rv ? { resourceVersion: rv } : {}) },
          (_type, obj: T) => test(obj) && end(obj),
          () => end(),
        )
        .then(
          (r) => (req = r),
          () => end(),
        );
    });
    if (seen) return seen;
  }
}

const notFoundIsNone = <T>(p: Promise<T>) =>
  p.catch((err: unknown) => {
    if (gone(err)) return undefined;
    throw err;
  });

/** Waits until the agent pod has run to its end; whether it succeeded, and its logs. */
async function finished(
  kube: Kube,
  name: string,
  boundSeconds: number,
): Promise<{ ok: boolean; logs: string }> {
  const namespace = AGENT_NAMESPACE;
  const ended = (p: V1Pod) => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';
  const pod = await awaitObject(
    kube,
    {
      path: `/api/v1/namespaces/${namespace}/pods`,
      name,
      read: () => notFoundIsNone(kube.core.readNamespacedPod({ namespace, name })),
    },
    ended,
    boundSeconds,
    `agent pod ${namespace}/${name} to finish (is its node's kubelet running?)`,
  );
  const logs = await kube.core.readNamespacedPodLog({ namespace, name }).catch((err: unknown) => String(err));
  return { ok: pod.status?.phase === 'Succeeded', logs: String(logs) };
}

async function removePod(kube: Kube, name: string): Promise<void> {
  await kube.core
    .deleteNamespacedPod({ namespace: AGENT_NAMESPACE, name, gracePeriodSeconds: 0 })
    .catch((err: unknown) => {
      if (!gone(err)) throw err;
    });
}

/** Runs a shell command on the node's host (its mount, PID and network namespaces); its output. */
export async function runOnNode(
  kube: Kube,
  image: string,
  node: string,
  command: string,
  boundSeconds: number,
): Promise<string> {
  await ensureAgentAccount(kube);
  const name = `run-${randomBytes(3).toString('hex')}`;
  const script = 'exec nsenter -t 1 -m -u -i -n -p -- sh -c "$COMMAND"';
  await kube.core.createNamespacedPod({
    namespace: AGENT_NAMESPACE,
    body: agentPod(name, node, image, script, { COMMAND: command }),
  });
  try {
    const { ok, logs } = await finished(kube, name, boundSeconds);
    if (!ok) throw new Error(`on ${node}: \`${command}\` failed: ${logs.trim() || 'no output'}`);
    return logs;
  } finally {
    await removePod(kube, name);
  }
}

/**
 * Arms a fault on the node and starts it: returns once the node's watchdog holds it (the agent pod
 * has handed over and exited) and has been told to go. The fault ends on the node at `deadline`.
 */
export async function armFault(
  kube: Kube,
  opts: {
    /** A process name the watchdog counts every second while the fault is on. */
    watch?: string;
    image: string;
    node: string;
    kind: NodeFaultKind;
    deadline: number;
    device?: string;
    boundSeconds: number;
  },
): Promise<ArmedFault> {
  await ensureAgentAccount(kube);
  const id = randomBytes(4).toString('hex');
  const namespace = AGENT_NAMESPACE;
  const seconds = String(Math.ceil(opts.deadline / 1000));
  await kube.core.createNamespacedConfigMap({
    namespace,
    body: {
      metadata: {
        name: `fault-${id}`,
        labels: { 'statefulset-lab/agent': opts.node, 'statefulset-lab/fault': opts.kind },
      },
      data: { deadline: seconds, go: '' },
    },
  });
  const env = {
    ID: id,
    KIND: opts.kind,
    DEV: opts.device ?? '',
    WATCH: opts.watch ?? '',
    DEADLINE: seconds,
    WATCHDOG,
  };
  const name = `arm-${id}`;
  await kube.core.createNamespacedPod({ namespace, body: agentPod(name, opts.node, opts.image, ARM, env) });
  // The pod object stays until the fault ends: the watchdog's token is bound to it.
  const { ok, logs } = await finished(kube, name, opts.boundSeconds);
  if (!ok) {
    await endFault(kube, id);
    throw new Error(
      `could not arm a ${opts.kind} on ${opts.node}: ${logs.trim() || 'the agent pod failed with no output'}`,
    );
  }
  await kube.core.patchNamespacedConfigMap({
    namespace,
    name: `fault-${id}`,
    body: [{ op: 'replace', path: '/data/go', value: '1' }],
  });
  return { id, node: opts.node, kind: opts.kind, deadline: Number(seconds) * 1000 };
}

/** Moves a fault's deadline (the node reads it within a second or two, while it can reach the API). */
export async function setDeadline(kube: Kube, id: string, deadline: number): Promise<void> {
  const value = String(Math.ceil(deadline / 1000));
  await kube.core.patchNamespacedConfigMap({
    namespace: AGENT_NAMESPACE,
    name: `fault-${id}`,
    body: [{ op: 'replace', path: '/data/deadline', value }],
  });
}

/** Ends a fault now: its control object and pod go, which the watchdog reads as "nobody holds it". */
export async function endFault(kube: Kube, id: string): Promise<void> {
  await removePod(kube, `arm-${id}`);
  await kube.core
    .deleteNamespacedConfigMap({ namespace: AGENT_NAMESPACE, name: `fault-${id}` })
    .catch((err: unknown) => {
      if (!gone(err)) throw err;
    });
}

/** The faults armed on a node that have not ended by their own deadline yet, read from the API. */
export async function armedOn(kube: Kube, node: string): Promise<ArmedFault[]> {
  const list = await kube.core
    .listNamespacedConfigMap({ namespace: AGENT_NAMESPACE, labelSelector: `statefulset-lab/agent=${node}` })
    .catch((err: unknown) => {
      if (gone(err)) return { items: [] };
      throw err;
    });
  return list.items.map((cm) => ({
    id: cm.metadata!.name!.replace(/^fault-/, ''),
    node,
    kind: cm.metadata!.labels!['statefulset-lab/fault'] as NodeFaultKind,
    deadline: Number(cm.data?.deadline) * 1000,
  }));
}

/** What the watchdog counted of its watched process while the fault was on: [ms, count] per second. */
export async function countsDuring(
  kube: Kube,
  image: string,
  node: string,
  id: string,
  boundSeconds: number,
) {
  const log = await runOnNode(
    kube,
    image,
    node,
    `journalctl -u ${unitOf(id)} -o cat --no-pager`,
    boundSeconds,
  );
  return log
    .split('\n')
    .map((l) => /^seen (\d+) (\d+)$/.exec(l.trim()))
    .filter((m): m is RegExpExecArray => !!m)
    .map((m) => ({ at: Number(m[1]), count: Number(m[2]) }));
}

// The official Kubernetes JavaScript client against the ClientLb sandbox: list, watch (the test scales in between),
// create and delete. Prints one line per step; the .NET test drives it through stdin/stdout.
import * as k8s from '@kubernetes/client-node';

const kc = new k8s.KubeConfig();
kc.loadFromFile(process.argv[2]);
const core = kc.makeApiClient(k8s.CoreV1Api);
const apps = kc.makeApiClient(k8s.AppsV1Api);
const say = (line) => process.stdout.write(line + '\n');

try {
  const pods = await core.listNamespacedPod({ namespace: 'default', labelSelector: 'app=my-app' });
  say(`LIST pods ${pods.items.length} ${pods.items.map(p => p.status.podIP).sort().join(',')}`);
  const deployments = await apps.listNamespacedDeployment({ namespace: 'default' });
  say(`LIST deployments ${deployments.items.map(d => `${d.metadata.name}=${d.spec.replicas}`).join(',')}`);

  // Watch the deployment until it reports the replicas the test scales it to.
  const want = Number(process.argv[3]);
  const watch = new k8s.Watch(kc);
  let done;
  const finished = new Promise((resolve, reject) => { done = { resolve, reject }; });
  const req = await watch.watch('/apis/apps/v1/namespaces/default/deployments', { resourceVersion: deployments.metadata.resourceVersion },
    (type, d) => {
      say(`WATCH ${type} ${d.metadata.name} replicas=${d.spec.replicas} ready=${d.status?.readyReplicas ?? 0}`);
      if (d.spec.replicas === want && (d.status?.readyReplicas ?? 0) === want) done.resolve();
    },
    (err) => { if (err) done.reject(err); });
  say('WATCHING');
  await finished;
  req.abort();

  const created = await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'from-client-node' }, data: { client: 'client-node' } } });
  say(`CREATE configmap ${created.metadata.name} uid=${created.metadata.uid}`);
  await core.deleteNamespacedConfigMap({ name: 'from-client-node', namespace: 'default' });
  say('DELETE configmap from-client-node');
  try {
    await core.readNamespacedConfigMap({ name: 'from-client-node', namespace: 'default' });
    say('ERROR the deleted configmap is still there');
  } catch (e) {
    say(`GONE ${e.code}`);
  }
  process.exit(0);
} catch (e) {
  say(`ERROR ${e.code ?? ''} ${e.body ?? e.message}`);
  process.exit(1);
}

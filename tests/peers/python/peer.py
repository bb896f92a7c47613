"""The official Kubernetes Python client (Debian's python3-kubernetes) against the ClientLb sandbox: list, watch (the
test scales in between), create and delete. Prints one line per step; the .NET test reads them."""
import sys

from kubernetes import client, config, watch


def main(kubeconfig, want):
    config.load_kube_config(config_file=kubeconfig)
    core = client.CoreV1Api()
    apps = client.AppsV1Api()
    pods = core.list_namespaced_pod("default", label_selector="app=my-app")
    print("LIST pods %d %s" % (len(pods.items), ",".join(sorted(p.status.pod_ip for p in pods.items))), flush=True)
    deployments = apps.list_namespaced_deployment("default")
    print("LIST deployments %s" % ",".join("%s=%d" % (d.metadata.name, d.spec.replicas) for d in deployments.items), flush=True)

    w = watch.Watch()
    print("WATCHING", flush=True)
    for event in w.stream(apps.list_namespaced_deployment, "default", resource_version=deployments.metadata.resource_version, timeout_seconds=60):
        d = event["object"]
        ready = d.status.ready_replicas or 0
        print("WATCH %s %s replicas=%d ready=%d" % (event["type"], d.metadata.name, d.spec.replicas, ready), flush=True)
        if d.spec.replicas == want and ready == want:
            w.stop()

    body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="from-python"), data={"client": "python"})
    created = core.create_namespaced_config_map("default", body)
    print("CREATE configmap %s uid=%s" % (created.metadata.name, created.metadata.uid), flush=True)
    core.delete_namespaced_config_map("from-python", "default")
    print("DELETE configmap from-python", flush=True)
    try:
        core.read_namespaced_config_map("from-python", "default")
        print("ERROR the deleted configmap is still there", flush=True)
    except client.exceptions.ApiException as e:
        print("GONE %d" % e.status, flush=True)


if __name__ == "__main__":
    try:
        main(sys.argv[1], int(sys.argv[2]))
    except Exception as e:  # report any failure on stdout for the test's message
        print("ERROR %s" % e, flush=True)
        sys.exit(1)

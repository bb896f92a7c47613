using ClientLb.Sandbox.Controllers;
using ClientLb.Sandbox.Logs;
using ClientLb.Sandbox.Pods;
using ClientLb.Sandbox.Store;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ClientLb.Sandbox;

public sealed partial class SandboxCluster
{
    private readonly List<Controller> _controllers = [];
    private Proxy.ServiceProxy? _serviceProxy;

    /// <summary>
    /// Service ports the service proxy could not listen on ("namespace/name ip:port/PROTOCOL") with the reason and remedy;
    /// empty when all are proxied or the proxy is off.
    /// </summary>
    public IReadOnlyDictionary<string, string> ServiceProxyFailures => _serviceProxy?.Failures ?? new Dictionary<string, string>();

    private void StartControllers()
    {
        ILoggerFactory logs = _options.LoggerFactory ?? NullLoggerFactory.Instance;
        ILogger Log<T>() => logs.CreateLogger(typeof(T).FullName!);
        var programs = new ProgramRunner(_store, Log<ProgramRunner>(), new Dictionary<string, SandboxProgram>(_options.Images, StringComparer.Ordinal),
            _options.JobBackoff, PodKubeconfigAsync, () => _dns?.EndPoint);
        var runtime = new PodRuntime(_store, Log<PodRuntime>(), PodIps, _options.LoggerFactory, PodLogs, programs);
        var deployments = new DeploymentController(_store, Log<DeploymentController>(), Events);
        var daemonSets = new DaemonSetController(_store, Log<DaemonSetController>());
        var jobs = new JobController(_store, Log<JobController>(), Events, _options.JobBackoff);
        var slices = new EndpointSliceController(_store, Log<EndpointSliceController>(), _options.MaxEndpointsPerSlice);
        var endpoints = new EndpointsController(_store, Log<EndpointsController>(), Events);
        var gc = new GarbageCollector(_store, Log<GarbageCollector>());
        var namespaces = new NamespaceController(_store, Log<NamespaceController>());
        _controllers.AddRange([runtime, deployments, daemonSets, jobs, slices, endpoints, gc, namespaces]);
        runtime.Start(ResourceTypes.Pods);
        deployments.Start(ResourceTypes.Deployments, ResourceTypes.Pods);
        daemonSets.Start(ResourceTypes.DaemonSets, ResourceTypes.Pods, ResourceTypes.Nodes);
        jobs.Start(ResourceTypes.Jobs, ResourceTypes.Pods);
        slices.Start(ResourceTypes.Services, ResourceTypes.Pods, ResourceTypes.EndpointSlices, ResourceTypes.Nodes);
        endpoints.Start(ResourceTypes.Services, ResourceTypes.Pods, ResourceTypes.Endpoints);
        gc.Start(ResourceTypes.Deployments, ResourceTypes.DaemonSets, ResourceTypes.Jobs, ResourceTypes.Services, ResourceTypes.Pods);
        namespaces.Start(ResourceTypes.All.ToArray());
        if (_options.EnableServiceProxy)
        {
            var proxyLogs = _options.Nodes.Select(n => PodLogs.Open("kube-system", CreateComponentPod("kube-proxy-" + ObjectStore.RandomSuffix(), "service-proxy",
                new System.Text.Json.Nodes.JsonObject { ["k8s-app"] = "kube-proxy" }, "127.0.0.1", "kube-proxy", "registry.k8s.io/kube-proxy:" + Api.Discovery.KubernetesVersion,
                [], n.Name), "kube-proxy")).ToList();
            _serviceProxy = new Proxy.ServiceProxy(_store, Log<Proxy.ServiceProxy>(), line => { foreach (LogBook? l in proxyLogs) { l.Write(line); } },
                (svc, message) => Events.Warning(svc, "kube-proxy", "FailedToListen", message));
            _controllers.Add(_serviceProxy);
            _serviceProxy.Start(ResourceTypes.Services, ResourceTypes.EndpointSlices);
        }
    }

    /// <summary>
    /// The credentials a run-to-completion pod's program gets: a token of its service account (a new file, deleted when the
    /// container ends), or the cluster's kubeconfig for a pod of the implicit <c>default</c> account that the namespace lacks.
    /// </summary>
    private async Task<(string Path, bool Owned)> PodKubeconfigAsync(string ns, string serviceAccount, CancellationToken ct)
    {
        if (_store.Get(ResourceTypes.ServiceAccounts, ns, serviceAccount) is null)
        {
            if (serviceAccount == "default")
            {
                return (KubeconfigPath, false);
            }

            throw new ApiException(422, ProgramRunner.ConfigError, $"error looking up service account {ns}/{serviceAccount}: serviceaccount \"{serviceAccount}\" not found");
        }
        return (await WriteServiceAccountKubeconfigAsync(serviceAccount, ns, cancellationToken: ct), true);
    }

    private async Task StopControllersAsync()
    {
        foreach (Controller c in _controllers)
        {
            await c.DisposeAsync();
        }

        _controllers.Clear();
    }

    /// <summary>Unexpected controller failures so far (tests can assert there are none).</summary>
    public IReadOnlyList<Exception> ControllerErrors => _controllers.Select(c => c.LastError).OfType<Exception>().ToList();
}

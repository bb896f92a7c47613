using ClientLb.Sandbox.Controllers;
using ClientLb.Sandbox.Pods;
using ClientLb.Sandbox.Store;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ClientLb.Sandbox;

public sealed partial class SandboxCluster
{
    readonly List<Controller> _controllers = [];
    Proxy.ServiceProxy? _serviceProxy;

    /// <summary>
    /// Service ports the service proxy could not listen on ("namespace/name ip:port/PROTOCOL") with the reason and remedy;
    /// empty when all are proxied or the proxy is off.
    /// </summary>
    public IReadOnlyDictionary<string, string> ServiceProxyFailures => _serviceProxy?.Failures ?? new Dictionary<string, string>();

    void StartControllers()
    {
        var logs = _options.LoggerFactory ?? NullLoggerFactory.Instance;
        ILogger Log<T>() => logs.CreateLogger(typeof(T).FullName!);
        var runtime = new PodRuntime(_store, Log<PodRuntime>(), PodIps, _options.LoggerFactory, PodLogs);
        var deployments = new DeploymentController(_store, Log<DeploymentController>(), Events);
        var daemonSets = new DaemonSetController(_store, Log<DaemonSetController>());
        var slices = new EndpointSliceController(_store, Log<EndpointSliceController>(), _options.MaxEndpointsPerSlice);
        var endpoints = new EndpointsController(_store, Log<EndpointsController>(), Events);
        var gc = new GarbageCollector(_store, Log<GarbageCollector>());
        var namespaces = new NamespaceController(_store, Log<NamespaceController>());
        _controllers.AddRange([runtime, deployments, daemonSets, slices, endpoints, gc, namespaces]);
        runtime.Start(ResourceTypes.Pods);
        deployments.Start(ResourceTypes.Deployments, ResourceTypes.Pods);
        daemonSets.Start(ResourceTypes.DaemonSets, ResourceTypes.Pods, ResourceTypes.Nodes);
        slices.Start(ResourceTypes.Services, ResourceTypes.Pods, ResourceTypes.EndpointSlices, ResourceTypes.Nodes);
        endpoints.Start(ResourceTypes.Services, ResourceTypes.Pods, ResourceTypes.Endpoints);
        gc.Start(ResourceTypes.Deployments, ResourceTypes.DaemonSets, ResourceTypes.Services, ResourceTypes.Pods);
        namespaces.Start(ResourceTypes.All.ToArray());
        if (_options.EnableServiceProxy)
        {
            var proxyLogs = _options.Nodes.Select(n => PodLogs.Open("kube-system", CreateComponentPod("kube-proxy-" + ObjectStore.RandomSuffix(), "service-proxy",
                new System.Text.Json.Nodes.JsonObject { ["k8s-app"] = "kube-proxy" }, "127.0.0.1", "kube-proxy", "registry.k8s.io/kube-proxy:" + Api.Discovery.KubernetesVersion,
                [], n.Name), "kube-proxy")).ToList();
            _serviceProxy = new Proxy.ServiceProxy(_store, Log<Proxy.ServiceProxy>(), line => { foreach (var l in proxyLogs) l.Write(line); },
                (svc, message) => Events.Warning(svc, "kube-proxy", "FailedToListen", message));
            _controllers.Add(_serviceProxy);
            _serviceProxy.Start(ResourceTypes.Services, ResourceTypes.EndpointSlices);
        }
    }

    async Task StopControllersAsync()
    {
        foreach (var c in _controllers) await c.DisposeAsync();
        _controllers.Clear();
    }

    /// <summary>Unexpected controller failures so far (tests can assert there are none).</summary>
    public IReadOnlyList<Exception> ControllerErrors => _controllers.Select(c => c.LastError).OfType<Exception>().ToList();
}

using ClientLb.Sandbox.Controllers;
using ClientLb.Sandbox.Pods;
using ClientLb.Sandbox.Store;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ClientLb.Sandbox;

public sealed partial class SandboxCluster
{
    readonly List<Controller> _controllers = [];

    void StartControllers()
    {
        var logs = _options.LoggerFactory ?? NullLoggerFactory.Instance;
        ILogger Log<T>() => logs.CreateLogger(typeof(T).FullName!);
        var runtime = new PodRuntime(_store, Log<PodRuntime>(), PodIps, _options.LoggerFactory, PodLogs);
        var deployments = new DeploymentController(_store, Log<DeploymentController>());
        var slices = new EndpointSliceController(_store, Log<EndpointSliceController>(), _options.MaxEndpointsPerSlice);
        var endpoints = new EndpointsController(_store, Log<EndpointsController>());
        var gc = new GarbageCollector(_store, Log<GarbageCollector>());
        var namespaces = new NamespaceController(_store, Log<NamespaceController>());
        _controllers.AddRange([runtime, deployments, slices, endpoints, gc, namespaces]);
        runtime.Start(ResourceTypes.Pods);
        deployments.Start(ResourceTypes.Deployments, ResourceTypes.Pods);
        slices.Start(ResourceTypes.Services, ResourceTypes.Pods, ResourceTypes.EndpointSlices, ResourceTypes.Nodes);
        endpoints.Start(ResourceTypes.Services, ResourceTypes.Pods, ResourceTypes.Endpoints);
        gc.Start(ResourceTypes.Deployments, ResourceTypes.Services, ResourceTypes.Pods);
        namespaces.Start(ResourceTypes.All.ToArray());
    }

    async Task StopControllersAsync()
    {
        foreach (var c in _controllers) await c.DisposeAsync();
        _controllers.Clear();
    }

    /// <summary>Unexpected controller failures so far (tests can assert there are none).</summary>
    public IReadOnlyList<Exception> ControllerErrors => _controllers.Select(c => c.LastError).OfType<Exception>().ToList();
}

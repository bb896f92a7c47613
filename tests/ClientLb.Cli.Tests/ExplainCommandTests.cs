using System.Net;
using ClientLb.Sandbox;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace ClientLb.Cli.Tests;

/// <summary><c>clientlb resolve --explain</c> names the reason a service resolves to nothing, for each common cause.</summary>
public sealed class ExplainCommandTests : IAsyncLifetime
{
    private SandboxCluster _cluster = null!;

    public async Task InitializeAsync()
    {
        _cluster = await SandboxCluster.StartAsync(new SandboxOptions { Namespaces = ["finance"] });
        await _cluster.ApplyManifestAsync("""
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: payment, namespace: finance}
            spec:
              replicas: 2
              selector: {matchLabels: {app: payment}}
              template:
                metadata: {labels: {app: payment}}
                spec:
                  containers:
                  - name: payment
                    image: payment:1.0
                    ports: [{name: http, containerPort: 8080}]
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: payment-service, namespace: finance}
            spec:
              selector: {app: payment}
              ports: [{name: http, port: 80, targetPort: http}]
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: wrong-port, namespace: finance}
            spec:
              selector: {app: payment}
              ports: [{name: http, port: 80, targetPort: web}]
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: external-db, namespace: finance}
            spec:
              ports: [{name: sql, port: 5432}]
            """);
        await _cluster.WaitForReadyEndpointsAsync("payment-service", 2, "finance");
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    private async Task<(int Code, string Output)> ExplainAsync(string name, string? kubeconfig = null)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = await CliApp.RunAsync(["resolve", name, "--explain", "--source", "kubernetes", "--kubeconfig", kubeconfig ?? _cluster.KubeconfigPath, "--timeout", "5"], output, error);
        return (code, output + error.ToString());
    }

    private static string Why(string output) => output.Split('\n').Single(l => l.StartsWith("why: ", StringComparison.Ordinal));

    [Fact]
    public async Task A_healthy_service_lists_its_slices_and_eligible_endpoints()
    {
        (int code, string output) = await ExplainAsync("payment-service.finance");
        Assert.True(code == 0, output);
        Assert.Contains("source: kubernetes", output);
        Assert.Contains("Service: ClusterIP", output);
        Assert.Contains("EndpointSlices: 1", output);
        foreach (SandboxPod pod in _cluster.GetPods("app=payment", "finance"))
        {
            Assert.Contains($"{pod.IP}:8080: eligible (ready=true", output);
        }
        Assert.Equal("why: 2 endpoint(s) take traffic", Why(output).TrimEnd());
    }

    [Fact]
    public async Task No_such_service()
    {
        (int code, string output) = await ExplainAsync("nothing.finance");
        Assert.Equal(2, code);
        Assert.Contains("no such service: Service nothing does not exist in namespace finance", Why(output));
    }

    [Fact]
    public async Task No_slices_for_a_service_without_selector()
    {
        (int code, string output) = await ExplainAsync("external-db.finance");
        Assert.Equal(2, code);
        Assert.Contains("EndpointSlices: 0", output);
        Assert.Contains("no EndpointSlices: the Service has no selector", Why(output));
    }

    [Fact]
    public async Task Port_name_mismatch_between_the_service_and_the_pods()
    {
        (int code, string output) = await ExplainAsync("wrong-port.finance");
        Assert.Equal(2, code);
        Assert.Contains("port name mismatch", Why(output));
        Assert.Contains("targetPort web", Why(output));
    }

    [Fact]
    public async Task A_port_name_the_service_does_not_have()
    {
        (int code, string output) = await ExplainAsync("payment-service.finance:grpc");
        Assert.Equal(2, code);
        Assert.Contains("port name missing: the Service payment-service.finance has no port named 'grpc' (ports: http 80", Why(output));
    }

    [Fact]
    public async Task All_pods_not_ready()
    {
        await _cluster.CreateDeploymentAsync("batch", 2, ns: "finance");
        await _cluster.CreateServiceAsync("batch", "batch", 80, 8080, "finance");
        await _cluster.WaitForReadyEndpointsAsync("batch", 2, "finance");
        foreach (SandboxPod pod in _cluster.GetPods("app=batch", "finance"))
        {
            await _cluster.SetPodReadyAsync(pod.Name, false, "finance");
        }
        await _cluster.WaitForReadyEndpointsAsync("batch", 0, "finance");

        (int code, string output) = await ExplainAsync("batch.finance");
        Assert.Equal(2, code);
        Assert.Contains("dropped: not ready (ready=false", output);
        Assert.Contains("all pods not ready: no ready endpoints", Why(output));
    }

    [Fact]
    public async Task Rbac_forbidden()
    {
        // An API server that forbids everything, as one with RBAC on does for a service account without the Role.
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using WebApplication api = builder.Build();
        api.Run(async context =>
        {
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync("""
                {"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Forbidden","code":403,
                 "message":"endpointslices.discovery.k8s.io is forbidden: User \"system:serviceaccount:finance:default\" cannot list resource \"endpointslices\" in API group \"discovery.k8s.io\" in the namespace \"finance\""}
                """);
        });
        await api.StartAsync();
        string server = api.Urls.Single();
        string kubeconfig = Path.Combine(Path.GetTempPath(), $"clientlb-forbidden-{Guid.NewGuid():N}.kubeconfig");
        await File.WriteAllTextAsync(kubeconfig, $"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: c
              cluster:
                server: "{server}"
            users:
            - name: u
              user:
                token: abc
            contexts:
            - name: x
              context:
                cluster: c
                user: u
                namespace: finance
            current-context: x
            """);
        try
        {
            (int code, string output) = await ExplainAsync("payment-service.finance", kubeconfig);
            Assert.Equal(2, code);
            Assert.Contains("RBAC: 403 Forbidden", Why(output));
            Assert.Contains("grant get, list and watch on services and endpointslices", Why(output));
        }
        finally
        {
            File.Delete(kubeconfig);
        }
    }
}

using ClientLb.Agent;
using ClientLb.Agent.Controller;
using ClientLb.Agent.Model;
using ClientLb.Kubernetes;
using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Config;
using ClientLb.Samples.PaymentClient;
using ClientLb.Sandbox;
using YamlDotNet.RepresentationModel;

namespace ClientLb.Release.Tests;

/// <summary>
/// deploy/plain applied whole to the sandbox with the real <c>kubectl apply -f</c>, and, with the sandbox's RBAC authorization
/// on, the SDK (the PaymentClient Job of the manifest, and the same client run directly) and the agent's controller running
/// under the service accounts those manifests create.
/// </summary>
public class DeploySandboxTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private static readonly string Plain = Path.Combine(PackagedAppTests.RepoRoot, "deploy", "plain");

    public static TheoryData<string> Overlays => ["node", "finance", "sidecar"];

    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task Every_object_of_the_plain_manifest_is_created_by_kubectl_apply(string overlay)
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions());
        string manifest = Path.Combine(Plain, overlay + ".yaml");
        string applied = await KubectlAsync(cluster.KubeconfigPath, $"apply -f \"{manifest}\"");
        List<string> names = ResourceNames(manifest);
        Assert.NotEmpty(names);
        Assert.Equal(names.Select(n => n + " created"), Lines(applied));
        // Read back from the API server, not from kubectl's echo.
        Assert.Equal(names, Lines(await KubectlAsync(cluster.KubeconfigPath, $"get -f \"{manifest}\" -o name")));
    }

    [Fact]
    public async Task With_rbac_on_the_sdk_and_the_agent_run_under_the_deploy_service_accounts_without_forbidden()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        // The manifest's PaymentClient Job runs the .NET PaymentClient in-process for its image, with the pod's arguments
        // and the token of its service account (finance/clientlb); a failed attempt (pods not ready yet) is retried soon.
        var options = new SandboxOptions
        {
            Authorization = SandboxAuthorization.Rbac,
            JobBackoff = TimeSpan.FromMilliseconds(200),
            Images = { ["clientlb/payment-client"] = (c, _) => PaymentClientApp.RunAsync([.. c.Args, "--kubeconfig", c.KubeconfigPath], c.Output) },
        };
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(options, timeout.Token);
        await KubectlAsync(cluster.KubeconfigPath, $"apply -f \"{Path.Combine(Plain, "finance.yaml")}\" -f \"{Path.Combine(Plain, "node.yaml")}\"");
        await cluster.ApplyManifestAsync("apiVersion: v1\nkind: ServiceAccount\nmetadata: { name: unbound, namespace: finance }\n");
        await cluster.WaitForReadyEndpointsAsync("payment-service", 3, "finance", timeout.Token);
        HashSet<string> pods = [.. cluster.GetPods("app=payment", "finance").Select(p => p.Name)];

        // The Job completes: its succeeded pod asked 30 times, under RBAC, and every payment pod answered.
        Assert.Contains("job.batch/payment-client condition met",
            await KubectlAsync(cluster.KubeconfigPath, "wait --for=condition=complete job/payment-client -n finance --timeout=50s"));
        string succeeded = (await KubectlAsync(cluster.KubeconfigPath, "get pods -n finance -l job-name=payment-client --field-selector status.phase=Succeeded -o name")).Trim();
        Assert.StartsWith("pod/payment-client-", succeeded);
        string jobLog = await KubectlAsync(cluster.KubeconfigPath, $"logs -n finance {succeeded}");
        Assert.Contains("30 answered, 0 failed", jobLog);
        Assert.DoesNotContain("forbidden", jobLog, StringComparison.OrdinalIgnoreCase);
        foreach (string pod in pods)
        {
            Assert.Contains($"answered by {pod}: {pod}", jobLog);
        }

        // The SDK (the PaymentClient's Kubernetes source) under finance/clientlb, bound to the Role of deploy/base/sdk.
        string sdk = await cluster.WriteServiceAccountKubeconfigAsync("clientlb", "finance", cancellationToken: timeout.Token);
        string unbound = await cluster.WriteServiceAccountKubeconfigAsync("unbound", "finance", cancellationToken: timeout.Token);
        try
        {
            var output = new StringWriter();
            int exit = await PaymentClientApp.RunAsync(["--kubeconfig", sdk, "--requests", "6"], output);
            Assert.True(exit == 0, output.ToString());
            Assert.DoesNotContain("forbidden", output.ToString(), StringComparison.OrdinalIgnoreCase);
            foreach (string pod in pods)
            {
                Assert.Contains($"answered by {pod}: {pod}", output.ToString());
            }

            // The same client under an account with no binding is refused: RBAC is really enforced.
            output = new StringWriter();
            Assert.Equal(1, await PaymentClientApp.RunAsync(["--kubeconfig", unbound, "--requests", "1"], output));
            Assert.Contains("forbidden", output.ToString(), StringComparison.OrdinalIgnoreCase);

            // The agent's controller (dry-run nftables) under clientlb-system/clientlb-agent, bound to the ClusterRole
            // of deploy/base/agent: the list of every namespace and then the watch.
            string agentKubeconfig = await cluster.WriteServiceAccountKubeconfigAsync("clientlb-agent", "clientlb-system", cancellationToken: timeout.Token);
            try
            {
                // The sandbox's pods are on loopback, which the agent never DNATs to: it reads every endpoint of the
                // slices (so RBAC let it list and watch them) and reports each as a dropped record naming the service.
                var droppedRecords = new System.Collections.Concurrent.ConcurrentBag<string>();
                using var listener = new System.Diagnostics.Metrics.MeterListener();
                listener.InstrumentPublished = (instrument, l) =>
                {
                    if (instrument.Meter.Name == ClientLb.Diagnostics.DroppedRecords.MeterName)
                    {
                        l.EnableMeasurementEvents(instrument);
                    }
                };
                listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
                {
                    string? service = null, source = null;
                    foreach (KeyValuePair<string, object?> tag in tags)
                    {
                        if (tag.Key == "service")
                        {
                            service = tag.Value as string;
                        }

                        if (tag.Key == "source")
                        {
                            source = tag.Value as string;
                        }
                    }
                    if (source == "agent" && service == "finance/payment-service")
                    {
                        droppedRecords.Add(service);
                    }
                });
                listener.Start();
                AgentBatch first = await RunControllerAsync(agentKubeconfig, timeout.Token);
                Assert.True(first.Full);
                ServiceState payment = first.Upserts.Single(s => s.Key == "finance/payment-service");
                Assert.Empty(payment.Ports.Single().Endpoints);
                Assert.True(droppedRecords.Count >= pods.Count, $"{droppedRecords.Count} endpoints of finance/payment-service reported dropped; expected each of the {pods.Count} pods");

                KubernetesApiException refused = await Assert.ThrowsAsync<KubernetesApiException>(() => SyncOnceAsync(unbound, timeout.Token));
                Assert.Contains("forbidden", refused.Message, StringComparison.OrdinalIgnoreCase);
            }
            finally
            {
                File.Delete(agentKubeconfig);
            }
        }
        finally
        {
            File.Delete(sdk);
            File.Delete(unbound);
        }
    }

    private static async Task<AgentBatch> RunControllerAsync(string kubeconfig, CancellationToken cancellationToken)
    {
        using KubernetesApiClient api = Api(kubeconfig);
        // Sidecar mode: node mode refuses the sandbox's 127.96.x.y ClusterIPs as VIPs.
        using var agent = new NftablesAgent(new NftablesAgentOptions { Mode = AgentMode.Sidecar, DryRun = true, DryRunOutput = TextWriter.Null });
        var first = new TaskCompletionSource<AgentBatch>(TaskCreationOptions.RunContinuationsAsynchronously);
        var controller = new KubernetesAgentController(api, agent, new KubernetesAgentControllerOptions { OnBatch = b => first.TrySetResult(b) });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task run = controller.RunAsync(stop.Token);
        try
        {
            return await first.Task.WaitAsync(cancellationToken);
        }
        finally
        {
            stop.Cancel();
            await run.ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    private static async Task<AgentBatch> SyncOnceAsync(string kubeconfig, CancellationToken cancellationToken)
    {
        using KubernetesApiClient api = Api(kubeconfig);
        using var agent = new NftablesAgent(new NftablesAgentOptions { Mode = AgentMode.Sidecar, DryRun = true, DryRunOutput = TextWriter.Null });
        return await new KubernetesAgentController(api, agent, new KubernetesAgentControllerOptions()).SyncOnceAsync(cancellationToken);
    }

    private static KubernetesApiClient Api(string kubeconfig) =>
        KubernetesApiClient.FromConfiguration(KubernetesConnection.TryResolve(new KubernetesSourceOptions { KubeconfigPath = kubeconfig, Mode = KubernetesConfigMode.Kubeconfig }, out _)!);

    private static Task<string> KubectlAsync(string kubeconfig, string arguments) =>
        PackagedAppTests.RunAsync("kubectl", $"--kubeconfig \"{kubeconfig}\" {arguments}", Plain);

    private static string[] Lines(string output) => output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    // kubectl's "kind.group/name" for every document of a manifest, in order.
    private static List<string> ResourceNames(string manifest)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(File.ReadAllText(manifest)));
        return [.. stream.Documents.Select(d => (YamlMappingNode)d.RootNode).Select(o =>
        {
            string apiVersion = ((YamlScalarNode)o["apiVersion"]).Value!;
            string group = apiVersion.Contains('/', StringComparison.Ordinal) ? "." + apiVersion[..apiVersion.IndexOf('/', StringComparison.Ordinal)] : "";
            string name = ((YamlScalarNode)((YamlMappingNode)o["metadata"])["name"]).Value!;
            return $"{((YamlScalarNode)o["kind"]).Value!.ToLowerInvariant()}{group}/{name}";
        })];
    }
}

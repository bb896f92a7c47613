// Calls a greeter by service name through ClientLb and prints how the calls of one channel spread over the backends.
//   dotnet run --project samples/GrpcClient             the embedded sandbox cluster: a greeter Deployment (3 pods serving
//                                                       gRPC on a port named grpc) behind the Service greeter.default,
//                                                       found through ClientLb's Kubernetes source
//   dotnet run --project samples/GrpcClient -- --static three grpc-js backends listed in appsettings.static.json (README.md)
using ClientLb.Grpc;
using ClientLb.Sandbox;
using Greet;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

const string GreeterManifest = """
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: greeter
    spec:
      replicas: 3
      selector:
        matchLabels: { app: greeter }
      template:
        metadata:
          labels: { app: greeter }
        spec:
          containers:
          - name: greeter
            image: greeter:1.0
            ports:
            - { name: grpc, containerPort: 50051 }
    ---
    apiVersion: v1
    kind: Service
    metadata:
      name: greeter
    spec:
      selector: { app: greeter }
      ports:
      - { name: grpc, port: 80, targetPort: grpc }
    """;

bool useStatic = args.Contains("--static");
// appsettings.json sits beside the binary, wherever the sample is started from.
HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
{
    Args = args.Where(a => a != "--static").ToArray(),
    ContentRootPath = AppContext.BaseDirectory,
});
if (useStatic)
{
    // The backends' addresses (and their health checks), before the command line so that it can override them.
    builder.Configuration.Sources.Insert(builder.Configuration.Sources.Count - 1, new Microsoft.Extensions.Configuration.Json.JsonConfigurationSource
    {
        Path = "appsettings.static.json",
        Optional = false,
        FileProvider = new Microsoft.Extensions.FileProviders.PhysicalFileProvider(AppContext.BaseDirectory),
    });
}
builder.Services.AddClientLbGrpc();
await using SandboxCluster? cluster = useStatic ? null : await SandboxCluster.StartAsync();
if (cluster is not null)
{
    await cluster.ApplyManifestAsync(GreeterManifest);
    using var ready = new CancellationTokenSource(TimeSpan.FromSeconds(30));
    await cluster.WaitForReadyEndpointsAsync("greeter", 3, cancellationToken: ready.Token);
    builder.Services.AddClientLbKubernetes(o =>
    {
        o.KubeconfigPath = cluster.KubeconfigPath;
        o.AllowLoopbackEndpoints = true; // sandbox pods are 127.244.x.y servers
    });
    // The pods serve grpc.health.v1 too: NOT_SERVING (an unready pod) takes a pod out of the picker at once.
    builder.Services.AddClientLbGrpc(o => o.HealthChecks["greeter.default"] = new ClientLb.Grpc.Configuration.GrpcHealthCheckOptions());
    Console.WriteLine($"Sandbox cluster: API {cluster.ApiServerUri}, pods {string.Join(", ", cluster.GetPods("app=greeter").Select(p => $"{p.Name} ({p.IP})"))}");
}
using IHost host = builder.Build();

IConfiguration settings = builder.Configuration.GetSection("Greeter");
Uri address = cluster is not null ? new Uri("http://greeter.default") : new Uri(settings["Address"] ?? "http://greeter");
int calls = settings.GetValue("Calls", 300);
int parallelism = settings.GetValue("Parallelism", 8);
if (calls < 1 || parallelism < 1)
{
    Console.Error.WriteLine($"Greeter:Calls ({calls}) and Greeter:Parallelism ({parallelism}) must be at least 1.");
    return 2;
}

// One Grpc.Net.Client channel whose HttpHandler is ClientLb's: every call picks a backend of the service.
// (The other path: GrpcChannel.ForAddress("clientlb:///greeter.default", new GrpcChannelOptions { ServiceProvider = host.Services,
//  Credentials = ChannelCredentials.Insecure }), docs/grpc.md.)
using GrpcChannel channel = GrpcChannel.ForAddress(address, new GrpcChannelOptions { HttpHandler = ClientLbGrpc.CreateHandler(host.Services) });
var greeter = new Greeter.GreeterClient(channel);

var perBackend = new SortedDictionary<string, int>(StringComparer.Ordinal);
int failed = 0;
int next = 0;
await Task.WhenAll(Enumerable.Range(0, parallelism).Select(async _ =>
{
    while (Interlocked.Increment(ref next) <= calls)
    {
        try
        {
            HelloReply reply = await greeter.SayHelloAsync(new HelloRequest { Name = "sample" }, deadline: DateTime.UtcNow.AddSeconds(5));
            lock (perBackend)
            {
                perBackend[reply.Server] = perBackend.GetValueOrDefault(reply.Server) + 1;
            }
        }
        catch (RpcException ex)
        {
            Interlocked.Increment(ref failed);
            Console.Error.WriteLine(ex.Message);
        }
    }
}));

Console.WriteLine($"{calls} calls to {address} over one channel:");
int width = perBackend.Keys.Append("failed").Max(name => name.Length);
foreach ((string backend, int count) in perBackend)
{
    Console.WriteLine($"  {backend.PadRight(width)} {count,5}  {new string('#', count * 40 / calls)}");
}
Console.WriteLine($"  {"failed".PadRight(width)} {failed,5}");
return failed == 0 ? 0 : 1;

// Calls the grpc-js greeter by service name through ClientLb and prints how the calls of one channel spread over the
// backends. Start three backends first (see README.md), then: dotnet run --project samples/GrpcClient
using ClientLb.Grpc;
using ClientLb.Grpc.Calls;
using Greet;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

// appsettings.json sits beside the binary, wherever the sample is started from.
HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.Services.AddClientLbGrpc();
using IHost host = builder.Build();

IConfiguration settings = builder.Configuration.GetSection("Greeter");
var address = new Uri(settings["Address"] ?? "http://greeter");
int calls = settings.GetValue("Calls", 300);
int parallelism = settings.GetValue("Parallelism", 8);
if (calls < 1 || parallelism < 1)
{
    Console.Error.WriteLine($"Greeter:Calls ({calls}) and Greeter:Parallelism ({parallelism}) must be at least 1.");
    return 2;
}

// One handler is one channel: with Grpc.Net.Client this is
//   GrpcChannel.ForAddress(address, new GrpcChannelOptions { HttpHandler = ClientLbGrpc.CreateHandler(host.Services) })
// Grpc.Net.Client is not obtainable here, so ClientLb's small caller makes the same HTTP/2 calls.
using var channel = new HttpMessageInvoker(ClientLbGrpc.CreateHandler(host.Services));
var greeter = new GrpcCaller(channel, address);

var perBackend = new SortedDictionary<string, int>(StringComparer.Ordinal);
int failed = 0;
int next = 0;
await Task.WhenAll(Enumerable.Range(0, parallelism).Select(async _ =>
{
    while (Interlocked.Increment(ref next) <= calls)
    {
        try
        {
            HelloReply reply = await greeter.UnaryAsync("/greet.Greeter/SayHello", new HelloRequest { Name = "sample" }, HelloReply.Parser,
                new GrpcCallOptions { Timeout = TimeSpan.FromSeconds(5) });
            lock (perBackend)
            {
                perBackend[reply.Server] = perBackend.GetValueOrDefault(reply.Server) + 1;
            }
        }
        catch (GrpcCallException ex)
        {
            Interlocked.Increment(ref failed);
            Console.Error.WriteLine(ex.Message);
        }
    }
}));

Console.WriteLine($"{calls} calls to {address} over one channel:");
foreach ((string backend, int count) in perBackend)
{
    Console.WriteLine($"  {backend,-12} {count,5}  {new string('#', count * 40 / calls)}");
}
Console.WriteLine($"  {"failed",-12} {failed,5}");
return failed == 0 ? 0 : 1;

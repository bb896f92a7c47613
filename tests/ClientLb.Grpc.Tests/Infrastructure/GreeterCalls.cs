using Greet;
using Grpc.Core;

namespace ClientLb.Grpc.Tests.Infrastructure;

internal static class GreeterCalls
{
    /// <summary>Calls (wait-for-ready) until <paramref name="count"/> distinct backends answered: on the resolver path subchannels become ready one by one.</summary>
    public static async Task WaitForAllAsync(Greeter.GreeterClient client, int count)
    {
        var seen = new HashSet<string>();
        DateTime give = DateTime.UtcNow.AddSeconds(10);
        while (seen.Count < count)
        {
            Assert.True(DateTime.UtcNow < give, $"only {string.Join(", ", seen)} answered within 10 s");
            seen.Add((await client.SayHelloAsync(new HelloRequest(), new CallOptions(deadline: DateTime.UtcNow.AddSeconds(5)).WithWaitForReady())).Server);
        }
    }

    /// <summary>Calls one after another until <paramref name="server"/> answers one; false if it did not within <paramref name="within"/>.</summary>
    public static async Task<bool> ReachesWithinAsync(Greeter.GreeterClient client, string server, TimeSpan within)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.Elapsed < within)
        {
            if ((await client.SayHelloAsync(new HelloRequest())).Server == server)
            {
                return true;
            }
            await Task.Delay(20);
        }
        return false;
    }

    /// <summary>
    /// Calls one after another until <paramref name="run"/> calls in a row were answered by <paramref name="server"/>
    /// alone; false if that did not happen within <paramref name="within"/>. The channel takes a new endpoint set from
    /// the resolver asynchronously (as grpc-dotnet does for any resolver), so a change shows within a short time, not at once.
    /// </summary>
    public static async Task<bool> OnlyReachesWithinAsync(Greeter.GreeterClient client, string server, int run, TimeSpan within)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        int inRow = 0;
        while (clock.Elapsed < within)
        {
            inRow = (await client.SayHelloAsync(new HelloRequest(), deadline: DateTime.UtcNow.AddSeconds(5))).Server == server ? inRow + 1 : 0;
            if (inRow == run)
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>
    /// <paramref name="workers"/> callers make <paramref name="calls"/> calls each, one after another, each with
    /// <paramref name="deadline"/>: the failures (status and detail) and the replies per backend.
    /// </summary>
    public static async Task<(List<string> Failures, Dictionary<string, int> Served)> WithDeadlineAsync(Greeter.GreeterClient client, int workers, int calls, TimeSpan deadline)
    {
        var failures = new List<string>();
        var served = new Dictionary<string, int>();
        await Task.WhenAll(Enumerable.Range(0, workers).Select(async worker =>
        {
            for (int i = 0; i < calls; i++)
            {
                try
                {
                    HelloReply reply = await client.SayHelloAsync(new HelloRequest { Name = $"{worker}-{i}" }, deadline: DateTime.UtcNow + deadline);
                    lock (served)
                    {
                        served[reply.Server] = served.GetValueOrDefault(reply.Server) + 1;
                    }
                }
                catch (RpcException ex)
                {
                    lock (failures)
                    {
                        failures.Add($"{ex.StatusCode}: {ex.Status.Detail}");
                    }
                }
            }
        }));
        return (failures, served);
    }
}

using System.Net;
using ClientLb.Grpc.Configuration;
using ClientLb.Names;
using ClientLb.Registry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ClientLb.Grpc.Tests.Protocol;

/// <summary>Every bad input gets an error that names what is at fault.</summary>
public sealed class ValidationTests
{
    [Fact]
    public void Options_WithBadEntries_FailNamingEachSetting()
    {
        var options = new ClientLbGrpcOptions { MaxRetryAttempts = -1, MaxReplayBufferBytes = -2 };
        options.IdempotentMethods.Add("greet.Greeter");
        options.IdempotentMethods.Add("greet.Greeter/Say*");
        options.IdempotentMethods.Add("greet.Greeter/*");
        options.HealthChecks["greeter"] = new() { Interval = TimeSpan.Zero, Timeout = TimeSpan.FromSeconds(-1), UnhealthyThreshold = 0 };

        ValidateOptionsResult result = new ClientLbGrpcOptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        string[] failures = [.. result.Failures!];
        Assert.Contains(failures, f => f.StartsWith("ClientLb:Grpc:IdempotentMethods:0 'greet.Greeter'", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("ClientLb:Grpc:IdempotentMethods:1 'greet.Greeter/Say*'", StringComparison.Ordinal));
        Assert.DoesNotContain(failures, f => f.Contains("IdempotentMethods:2", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("ClientLb:Grpc:MaxRetryAttempts -1", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("ClientLb:Grpc:MaxReplayBufferBytes -2", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("ClientLb:Grpc:HealthChecks:greeter:Interval", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("ClientLb:Grpc:HealthChecks:greeter:Timeout", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("ClientLb:Grpc:HealthChecks:greeter:UnhealthyThreshold 0", StringComparison.Ordinal));
    }

    [Fact]
    public async Task CreateHandler_WithInvalidOptions_Throws()
    {
        await using ServiceProvider provider = new ServiceCollection().AddClientLb().BuildServiceProvider();
        var options = new ClientLbGrpcOptions { MaxRetryAttempts = 11 };

        OptionsValidationException error = Assert.Throws<OptionsValidationException>(() => ClientLbGrpc.CreateHandler(provider.GetRequiredService<ServiceRegistry>(), options));
        Assert.Contains("ClientLb:Grpc:MaxRetryAttempts 11", error.Message);
    }

    [Fact]
    public async Task CreateHandler_FromAContainerWithoutClientLbGrpc_SaysWhatToCall()
    {
        await using ServiceProvider provider = new ServiceCollection().AddClientLb().BuildServiceProvider();
        InvalidOperationException error = Assert.Throws<InvalidOperationException>(() => ClientLbGrpc.CreateHandler(provider));
        Assert.Contains("services.AddClientLbGrpc()", error.Message);
    }

    [Fact]
    public async Task HealthCheckEntry_WithAnInvalidServiceName_IsNamed()
    {
        await using ServiceProvider provider = new ServiceCollection().AddClientLb().BuildServiceProvider();
        var options = new ClientLbGrpcOptions();
        options.HealthChecks["Not_A_Name!"] = new();

        ArgumentException error = Assert.Throws<ArgumentException>(() => ClientLbGrpc.CreateHandler(provider.GetRequiredService<ServiceRegistry>(), options));
        Assert.Contains("ClientLb:Grpc:HealthChecks:Not_A_Name!", error.Message);
    }

    [Fact]
    public async Task Options_BindFromConfiguration()
    {
        IConfigurationRoot configuration = new Microsoft.Extensions.Configuration.ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ClientLb:Grpc:IdempotentMethods:0"] = "greet.Greeter/SayHello",
            ["ClientLb:Grpc:MaxRetryAttempts"] = "3",
            ["ClientLb:Grpc:HealthChecks:greeter:ServiceName"] = "greet.Greeter",
            ["ClientLb:Grpc:HealthChecks:greeter:Interval"] = "00:00:02",
        }).Build();
        await using ServiceProvider provider = new ServiceCollection().AddSingleton<Microsoft.Extensions.Configuration.IConfiguration>(configuration)
            .AddClientLbGrpc().BuildServiceProvider();

        ClientLbGrpcOptions options = provider.GetRequiredService<IOptions<ClientLbGrpcOptions>>().Value;

        Assert.Equal(["greet.Greeter/SayHello"], options.IdempotentMethods);
        Assert.Equal(3, options.MaxRetryAttempts);
        Assert.Equal("greet.Greeter", options.HealthChecks["greeter"].ServiceName);
        Assert.Equal(TimeSpan.FromSeconds(2), options.HealthChecks["greeter"].Interval);
    }

    [Fact]
    public async Task Handler_RejectsRequestsThatAreNotGrpcCalls()
    {
        // 'greeter' has one endpoint that refuses (port 1 on loopback): a well-formed call is sent and fails fast.
        await using ServiceProvider provider = new ServiceCollection()
            .AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["ClientLb:Services:greeter:Endpoints:0"] = "127.0.0.1:1",
            }).Build())
            .AddClientLbGrpc().BuildServiceProvider();
        using var invoker = new HttpMessageInvoker(ClientLbGrpc.CreateHandler(provider));

        InvalidOperationException notGrpc = await Assert.ThrowsAsync<InvalidOperationException>(() => invoker.SendAsync(
            new HttpRequestMessage(HttpMethod.Post, "http://greeter/greet.Greeter/SayHello") { Content = new StringContent("{}") }, default));
        Assert.Contains("content type 'text/plain; charset=utf-8', not application/grpc", notGrpc.Message);

        InvalidOperationException badPath = await Assert.ThrowsAsync<InvalidOperationException>(() => invoker.SendAsync(
            new HttpRequestMessage(HttpMethod.Post, "http://greeter/SayHello") { Content = GrpcContent() }, default));
        Assert.Contains("'/SayHello'", badPath.Message);

        // A well-formed path is checked once (the handler remembers it); another path is still checked after it.
        await Assert.ThrowsAsync<HttpRequestException>(() => invoker.SendAsync(
            new HttpRequestMessage(HttpMethod.Post, "http://greeter/greet.Greeter/SayHello") { Content = GrpcContent() }, default));
        InvalidOperationException badAfterGood = await Assert.ThrowsAsync<InvalidOperationException>(() => invoker.SendAsync(
            new HttpRequestMessage(HttpMethod.Post, "http://greeter/greet.Greeter/Say/Hello") { Content = GrpcContent() }, default));
        Assert.Contains("'/greet.Greeter/Say/Hello'", badAfterGood.Message);

        // A gRPC-Web call is not made HTTP/2 (gRPC-Web runs over HTTP/1.1 too); a gRPC call is, exactly.
        var web = new HttpRequestMessage(HttpMethod.Post, "http://greeter/greet.Greeter/SayHello") { Content = GrpcContent("application/grpc-web") };
        await Assert.ThrowsAsync<HttpRequestException>(() => invoker.SendAsync(web, default));
        Assert.Equal((HttpVersion.Version11, HttpVersionPolicy.RequestVersionOrLower), (web.Version, web.VersionPolicy));
        var grpc = new HttpRequestMessage(HttpMethod.Post, "http://greeter/greet.Greeter/SayHello") { Content = GrpcContent() };
        await Assert.ThrowsAsync<HttpRequestException>(() => invoker.SendAsync(grpc, default));
        Assert.Equal((HttpVersion.Version20, HttpVersionPolicy.RequestVersionExact), (grpc.Version, grpc.VersionPolicy));

        // A content type added unvalidated that does not parse is quoted whole.
        var unparsable = new ByteArrayContent([]);
        unparsable.Headers.TryAddWithoutValidation("Content-Type", "application/json;;;");
        InvalidOperationException raw = await Assert.ThrowsAsync<InvalidOperationException>(() => invoker.SendAsync(
            new HttpRequestMessage(HttpMethod.Post, "http://greeter/greet.Greeter/SayHello") { Content = unparsable }, default));
        Assert.Contains("'application/json;;;'", raw.Message);

        InvalidOperationException relative = await Assert.ThrowsAsync<InvalidOperationException>(() => invoker.SendAsync(
            new HttpRequestMessage(HttpMethod.Post, "/greet.Greeter/SayHello") { Content = GrpcContent() }, default));
        Assert.Contains("absolute gRPC address", relative.Message);
    }

    private static ByteArrayContent GrpcContent(string mediaType = "application/grpc")
    {
        var content = new ByteArrayContent([]);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(mediaType);
        return content;
    }
}

using ClientLb.Grpc.Resolution;
using Grpc.Core;

namespace ClientLb.Grpc.Tests.Resolution;

/// <summary>Which clientlb:/// channels are TLS (Host override, https health checks): read from the credentials as grpc-dotnet reads them.</summary>
public sealed class ChannelSecurityTests
{
    private static readonly CallCredentials Token = CallCredentials.FromInterceptor((_, metadata) =>
    {
        metadata.Add("authorization", "Bearer t");
        return Task.CompletedTask;
    });

    [Fact]
    public void Ssl_and_ssl_with_call_credentials_are_secure() =>
        Assert.All([ChannelCredentials.SecureSsl, ChannelCredentials.Create(ChannelCredentials.SecureSsl, Token)], c => Assert.True(ChannelSecurity.IsSecure(c)));

    [Fact]
    public void Insecure_insecure_with_call_credentials_and_none_are_not() =>
        Assert.All([ChannelCredentials.Insecure, ChannelCredentials.Create(ChannelCredentials.Insecure, Token), null], c => Assert.False(ChannelSecurity.IsSecure(c)));
}

using Grpc.Core;

namespace ClientLb.Grpc.Resolution;

/// <summary>
/// Whether a channel's credentials are TLS, read the way grpc-dotnet reads them (through the credentials' configurator),
/// so composite credentials (SSL plus call credentials) count as secure and insecure plus call credentials as insecure.
/// </summary>
internal sealed class ChannelSecurity : ChannelCredentialsConfiguratorBase
{
    private bool _secure;

    private ChannelSecurity()
    {
    }

    /// <summary>True for TLS credentials; false for insecure ones, and for none (grpc-dotnet refuses a clientlb:/// channel without).</summary>
    public static bool IsSecure(ChannelCredentials? credentials)
    {
        if (credentials is null)
        {
            return false;
        }
        var security = new ChannelSecurity();
        credentials.InternalPopulateConfiguration(security, null!);
        return security._secure;
    }

    public override void SetInsecureCredentials(object state) => _secure = false;

    public override void SetSslCredentials(object state, string? rootCertificates, KeyCertificatePair? keyCertificatePair, VerifyPeerCallback? verifyPeerCallback) => _secure = true;

    public override void SetCompositeCredentials(object state, ChannelCredentials channelCredentials, CallCredentials callCredentials) =>
        channelCredentials.InternalPopulateConfiguration(this, state);
}

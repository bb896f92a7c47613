namespace ClientLb;

/// <summary>Per-request settings, set on <see cref="HttpRequestMessage.Options"/>.</summary>
public static class ClientLbRequestOptions
{
    /// <summary>
    /// The affinity key of a service whose <c>Affinity:Key</c> is <c>Caller</c> (policies <c>Hash</c> and <c>Sticky</c>):
    /// <c>request.Options.Set(ClientLbRequestOptions.AffinityKey, userId)</c>.
    /// </summary>
    public static readonly HttpRequestOptionsKey<string> AffinityKey = new("ClientLb.AffinityKey");

    /// <summary>
    /// Allows retrying this request on another endpoint after it may have reached a server, even though its method is
    /// not idempotent (e.g. a POST the server deduplicates by an idempotency key). Its body must still be replayable.
    /// </summary>
    public static readonly HttpRequestOptionsKey<bool> AllowRetry = new("ClientLb.AllowRetry");
}

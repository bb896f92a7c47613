namespace ClientLb.Grpc.Configuration;

/// <summary>
/// gRPC settings of ClientLb, bound from the <c>ClientLb:Grpc</c> configuration section:
/// <code>"ClientLb": { "Grpc": { "IdempotentMethods": ["greet.Greeter/SayHello"], "HealthChecks": { "greeter": { "Interval": "00:00:05" } } } }</code>
/// </summary>
public sealed class ClientLbGrpcOptions
{
    /// <summary>The configuration section bound to these options.</summary>
    public const string SectionName = "ClientLb:Grpc";

    /// <summary>
    /// Methods that may run twice: <c>package.Service/Method</c>, or <c>package.Service/*</c> for every method of a service.
    /// A call to one of them is retried on another endpoint after UNAVAILABLE or a broken connection even if the server may
    /// have seen it (when its request fit in <see cref="MaxReplayBufferBytes"/>). Other calls are retried
    /// only when nothing was sent.
    /// </summary>
    public IList<string> IdempotentMethods { get; set; } = new List<string>();

    /// <summary>
    /// Which of the <see cref="IdempotentMethods"/> are unary (same syntax). Their answer is read to its end (at most
    /// <see cref="MaxReplayBufferBytes"/>) before the call returns, so a connection lost mid-answer, or UNAVAILABLE in the
    /// trailers, is still retried on another endpoint and counted against the endpoint. Do not list streaming methods:
    /// their first messages would wait for the read-ahead.
    /// </summary>
    public IList<string> UnaryMethods { get; set; } = new List<string>();

    /// <summary>How many times a call may be retried, each time on another endpoint. 2 by default; 0 turns retries off.</summary>
    public int MaxRetryAttempts { get; set; } = 2;

    /// <summary>
    /// The largest request body kept, while it is sent, to replay a call (idempotent, or never run by the server). 1 MiB by
    /// default; larger calls are not replayed; 0 keeps nothing.
    /// </summary>
    public int MaxReplayBufferBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// Active health checks (grpc.health.v1.Health/Check) by ClientLb service name (<c>greeter</c>, <c>greeter.shop</c>),
    /// opt-in per service. An endpoint that answers anything but SERVING leaves the picker until it serves again.
    /// </summary>
    public IDictionary<string, GrpcHealthCheckOptions> HealthChecks { get; } = new Dictionary<string, GrpcHealthCheckOptions>(StringComparer.OrdinalIgnoreCase);
}

/// <summary>Active health checks of one service.</summary>
public sealed class GrpcHealthCheckOptions
{
    /// <summary>Whether the checks run. On by default (an entry opts its service in).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The <c>service</c> field of the HealthCheckRequest: empty (the server as a whole) by default.</summary>
    public string ServiceName { get; set; } = "";

    /// <summary>How often each endpoint is checked. 5 s by default.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long one check may take. 1 s by default.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Checks in a row that got no answer (timeout, connection failure, an error status) before the endpoint counts as
    /// down. 2 by default. An explicit NOT_SERVING takes it out at once.
    /// </summary>
    public int UnhealthyThreshold { get; set; } = 2;
}

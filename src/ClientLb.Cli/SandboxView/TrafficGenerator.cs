namespace ClientLb.Cli.SandboxView;

/// <summary>
/// Sends GET requests to one Service through ClientLb at a set rate, so the dashboard's per-pod chart shows where they go
/// while pods are scaled, deleted or fail. Bounded: at most <see cref="MaxRate"/> requests per second, and it stops by
/// itself after <see cref="MaxDuration"/>.
/// </summary>
internal sealed class TrafficGenerator(IHttpClientFactory clients) : IAsyncDisposable
{
    public const string ClientName = "clientlb-sandbox-traffic";
    public const int MaxRate = 200;
    public static readonly TimeSpan MaxDuration = TimeSpan.FromMinutes(10);
    private readonly Lock _gate = new();
    private CancellationTokenSource? _running;
    private Task _loop = Task.CompletedTask;
    private long _sent, _failed;

    /// <summary>The service traffic goes to, its rate, and what was sent and failed since it started; null service when stopped.</summary>
    public (string? Service, int Rate, long Sent, long Failed, string? LastError) Status
    {
        get
        {
            lock (_gate)
            {
                return (_service, _rate, Interlocked.Read(ref _sent), Interlocked.Read(ref _failed), _lastError);
            }
        }
    }

    private string? _service;
    private int _rate;
    private string? _lastError;

    /// <summary>Starts sending to <paramref name="service"/> (e.g. <c>web.default</c>) at <paramref name="rate"/> per second, replacing any run; rate 0 stops.</summary>
    public async Task SetAsync(string? service, int rate)
    {
        if (rate is < 0 or > MaxRate)
        {
            throw new ArgumentOutOfRangeException(nameof(rate), rate, $"the rate must be between 0 and {MaxRate} requests per second");
        }
        if (rate > 0 && string.IsNullOrWhiteSpace(service))
        {
            throw new ArgumentException("name the service to send traffic to", nameof(service));
        }
        Uri? target = null;
        if (rate > 0 && !Uri.TryCreate("http://" + service + "/", UriKind.Absolute, out target))
        {
            throw new ArgumentException($"'{service}' is not a service name", nameof(service));
        }
        await StopAsync();
        if (rate == 0)
        {
            return;
        }
        lock (_gate)
        {
            _service = service;
            _rate = rate;
            _lastError = null;
            Interlocked.Exchange(ref _sent, 0);
            Interlocked.Exchange(ref _failed, 0);
            _running = new CancellationTokenSource(MaxDuration);
            _loop = RunAsync(target!, rate, _running.Token);
        }
    }

    private async Task RunAsync(Uri target, int rate, CancellationToken stop)
    {
        HttpClient client = clients.CreateClient(ClientName);
        client.Timeout = TimeSpan.FromSeconds(5);
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1.0 / rate));
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                _ = SendAsync(client, target, stop);
            }
        }
        catch (OperationCanceledException)
        {
        }
        lock (_gate)
        {
            _service = null;
            _rate = 0;
        }
    }

    private async Task SendAsync(HttpClient client, Uri target, CancellationToken stop)
    {
        try
        {
            using HttpResponseMessage response = await client.GetAsync(target, stop);
            Interlocked.Increment(ref _sent);
            if (!response.IsSuccessStatusCode)
            {
                Interlocked.Increment(ref _failed);
            }
        }
        catch (Exception ex) when (!stop.IsCancellationRequested)
        {
            Interlocked.Increment(ref _sent);
            Interlocked.Increment(ref _failed);
            lock (_gate)
            {
                _lastError = ex.Message;
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task StopAsync()
    {
        Task loop;
        lock (_gate)
        {
            _running?.Cancel();
            loop = _loop;
        }
        await loop;
    }

    public async ValueTask DisposeAsync() => await StopAsync();
}

// The seed's payment service (seed 003: payment-service.finance, port 80 -> 8080) as an ASP.NET Core app.
//   dotnet run --project samples/PaymentService -- --sandbox [--replicas 3] [--kubeconfig-out PATH]
//       the embedded sandbox with payment-service.yaml applied and a PaymentService on every pod; runs until Ctrl-C
//   dotnet run --project samples/PaymentService
//       one instance as a container runs it: POD_NAME (else the host name), 0.0.0.0:8080 HTTP and :8081 gRPC
using ClientLb.Samples.PaymentService;

if (args.Contains("--sandbox"))
{
    int replicas = int.Parse(Option("--replicas") ?? "3", System.Globalization.CultureInfo.InvariantCulture);
    using var stop = new CancellationTokenSource();
    Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
    using var terminate = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, s => { s.Cancel = true; stop.Cancel(); });
    await using PaymentSandbox sandbox = await PaymentSandbox.StartAsync(replicas, Option("--kubeconfig-out"), stop.Token);
    Console.WriteLine($"payment-service.finance: {replicas} pods serving ({string.Join(", ", sandbox.ServedPods.Order())})");
    Console.WriteLine($"kubeconfig: {sandbox.Cluster.KubeconfigPath}");
    Console.WriteLine($"cluster DNS: {sandbox.Cluster.DnsEndPoint}");
    Console.WriteLine($"client: dotnet run --project samples/PaymentClient -- --kubeconfig {sandbox.Cluster.KubeconfigPath}");
    Console.WriteLine("Ctrl-C (or SIGTERM) stops the sandbox.");
    try
    {
        await Task.Delay(Timeout.Infinite, stop.Token);
    }
    catch (OperationCanceledException)
    {
    }
    return 0;
}

string pod = Environment.GetEnvironmentVariable("POD_NAME") ?? Environment.MachineName;
WebApplication app = PaymentApp.Build(pod, "0.0.0.0", args: args);
await app.RunAsync();
return 0;

string? Option(string name)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}

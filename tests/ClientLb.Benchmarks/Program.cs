using BenchmarkDotNet.Running;
using ClientLb.Benchmarks;

// dotnet run -c Release --project tests/ClientLb.Benchmarks -- --filter '*'
// dotnet run -c Release --project tests/ClientLb.Benchmarks -- churn [seconds] [backends] [workers]
// dotnet run -c Release --project tests/ClientLb.Benchmarks -- k8s-latency [changes] | k8s-memory [services] [endpoints] [--hold SECONDS]
// dotnet run -c Release --project tests/ClientLb.Benchmarks -- overhead [pairs] [requestsPerBlock]
// dotnet run -c Release --project tests/ClientLb.Benchmarks -- mesd-overhead [groups] [requestsPerBlock]
// dotnet run -c Release --project tests/ClientLb.Benchmarks -- relay-latency [changes]
// dotnet run -c Release --project tests/ClientLb.Benchmarks -- grpc-overhead [groups] [callsPerBlock] [types] [handler|resolver]
// (grpc-backends [count]: the gRPC benchmarks' servers, in their own process; started by the benchmarks themselves)
if (args.Length > 0 && args[0] == "churn")
{
    return await ChurnLoad.RunAsync(args);
}
if (args.Length > 0 && args[0] == "mesd-overhead")
{
    return await MesdOverheadLoad.RunAsync(args);
}
if (args.Length > 0 && args[0] == "overhead")
{
    return await OverheadLoad.RunAsync(args);
}
if (args.Length > 0 && args[0] == "grpc-overhead")
{
    return await GrpcOverheadLoad.RunAsync(args);
}
if (args.Length > 0 && args[0] == "grpc-backends")
{
    return await GrpcBackends.ServeAsync(args);
}
if (args.Length > 0 && args[0] == "relay-latency")
{
    return await RelayLoad.RunAsync(args);
}
if (args.Length > 0 && args[0].StartsWith("k8s-", StringComparison.Ordinal))
{
    return await KubernetesLoad.RunAsync(args);
}
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;

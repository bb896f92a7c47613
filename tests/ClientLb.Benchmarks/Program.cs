using BenchmarkDotNet.Running;

// dotnet run -c Release --project tests/ClientLb.Benchmarks -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);

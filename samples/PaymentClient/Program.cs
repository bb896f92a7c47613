// The seed's PaymentClient in .NET (seed 003): GET http://payment-service.finance/process through IHttpClientFactory
// and ClientLb, printing which pod answered.
//   dotnet run --project samples/PaymentService -- --sandbox        (in another terminal: prints the kubeconfig path)
//   dotnet run --project samples/PaymentClient -- --kubeconfig PATH [--requests 12] [--dns-server 127.0.0.1:PORT]
return await ClientLb.Samples.PaymentClient.PaymentClientApp.RunAsync(args, Console.Out);

using ClientLb.Names;
using CsCheck;

namespace ClientLb.Tests.Names;

public class ServiceNameTests
{
    private static readonly ServiceNameDefaults Finance = new("finance");

    [Theory]
    [InlineData("payments", "payments", "finance", null, null)]
    [InlineData("payments.shop", "payments", "shop", null, null)]
    [InlineData("payments.shop.svc", "payments", "shop", null, null)]
    [InlineData("payments.shop.svc.cluster.local", "payments", "shop", null, null)]
    [InlineData("payments.shop.svc.cluster.local.", "payments", "shop", null, null)]
    [InlineData("http://payments.shop:8080/orders?x=1", "payments", "shop", 8080, null)]
    [InlineData("https+http://payments", "payments", "finance", null, null)]
    [InlineData("https://_grpc.payments.shop", "payments", "shop", null, "grpc")]
    [InlineData("payments.shop:grpc", "payments", "shop", null, "grpc")]
    [InlineData("payments:9090", "payments", "finance", 9090, null)]
    [InlineData("Payments.Shop", "payments", "shop", null, null)]
    [InlineData("_http.payment-service", "payment-service", "finance", null, "http")]
    [InlineData("_http._tcp.payments.finance.svc.cluster.local", "payments", "finance", null, "http")] // the SRV name as DNS writes it
    [InlineData("_http._tcp.payments.finance.svc.cluster.local.", "payments", "finance", null, "http")]
    [InlineData("_grpc._tcp.payments.shop", "payments", "shop", null, "grpc")]
    [InlineData("http://_http._tcp.payments.shop", "payments", "shop", null, "http")]
    public void Parses_every_documented_form(string input, string name, string ns, int? port, string? portName)
    {
        ServiceName parsed = ServiceName.Parse(input, Finance);
        Assert.Equal(name, parsed.Name);
        Assert.Equal(ns, parsed.Namespace);
        Assert.Equal(port, parsed.Port);
        Assert.Equal(portName, parsed.PortName);
        Assert.Equal($"{name}.{ns}.svc.cluster.local", parsed.Fqdn);
    }

    // Property: a name built from valid parts parses the same in every written form (short, FQDN, the SRV name, ':port').
    [Fact]
    public void Every_valid_name_parses_the_same_in_every_form()
    {
        Gen<string> label = Gen.Select(Gen.Char["abcdefghijklmnopqrstuvwxyz"], Gen.Char["abcdefghijklmnopqrstuvwxyz0123456789-"].Array[0, 20].Select(static a => new string(a)), Gen.Char["abcdefghijklmnopqrstuvwxyz0123456789"],
            static (first, middle, last) => first + middle + last);
        Gen<string> portName = Gen.Select(Gen.Char["abcdefghijklmnopqrstuvwxyz"], Gen.Char["abcdefghijklmnopqrstuvwxyz0123456789"].Array[0, 13].Select(static a => new string(a)), static (first, rest) => first + rest);
        Gen.Select(label, label, portName).Sample((name, ns, port) =>
        {
            ServiceName expected = ServiceName.Create(name, ns, portName: port);
            return new[] { $"_{port}.{name}.{ns}", $"{name}.{ns}:{port}", $"_{port}._tcp.{name}.{ns}", $"_{port}._tcp.{name}.{ns}.svc.cluster.local", $"_{port}._tcp.{name}.{ns}.svc.cluster.local.", $"http://_{port}._tcp.{name}.{ns}/x" }
                .All(form => ServiceName.Parse(form).Equals(expected) && ServiceName.Parse(ServiceName.Parse(form).Id).Equals(expected));
        }, iter: 5_000);
    }

    // Property: any text is answered with a name or an error naming the input; never an exception of another kind.
    [Fact]
    public void Arbitrary_text_gives_a_name_or_an_error() =>
        Gen.OneOf(Gen.String, Gen.String["_abc.:/0129-+@[]"]).Sample(text =>
            ServiceName.TryParse(text, null, out ServiceName? name, out string? error) ? ServiceName.Parse(name.Id).Equals(name) : error.Length > 0, iter: 50_000);

    [Fact]
    public void Scheme_preference_is_kept_in_order()
    {
        ServiceName parsed = ServiceName.Parse("https+http://payments");
        Assert.Equal(["https", "http"], parsed.Schemes);
        Assert.Empty(ServiceName.Parse("payments").Schemes);
    }

    [Fact]
    public void Cluster_domain_is_configurable()
    {
        var defaults = new ServiceNameDefaults("default", "corp.example");
        Assert.Equal("payments.ops.svc.corp.example", ServiceName.Parse("payments.ops.svc.corp.example", defaults).Fqdn);
        ServiceNameFormatException error = Assert.Throws<ServiceNameFormatException>(() => ServiceName.Parse("payments.ops.svc.cluster.local", defaults));
        Assert.Contains("cluster domain 'cluster.local'", error.Message);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("   ", "empty")]
    [InlineData("pay_ments", "contains '_'")]
    [InlineData("1payments", "must start with a lowercase letter")]
    [InlineData("payments-", "must not end with '-'")]
    [InlineData("api.example.com.au", "is not a Kubernetes service name")]
    [InlineData("http://payments:http", "is not a number")]
    [InlineData("payments:0", "outside 1-65535")]
    [InlineData("payments:70000", "outside 1-65535")]
    [InlineData("payments:Http_Port", "port name")]
    [InlineData("payments/orders", "cannot have a path")]
    [InlineData("http://user@payments", "user information")]
    [InlineData("127.0.0.1", "IP address literal")]
    [InlineData("http://[::1]:80", "IP address literal")]
    [InlineData("_.payments", "port name")]
    [InlineData("_dns._udp.kube-dns.kube-system", "'_udp' is not served")]
    [InlineData("_http._tcp", "must be followed by a service name")]
    [InlineData("10.1", "IP address literal")]
    [InlineData("0x0a000001", "IP address literal")]
    [InlineData("://payments", "scheme")]
    [InlineData("payments.this-namespace-name-is-far-too-long-to-be-a-valid-kubernetes-label-ok", "longer than 63")]
    public void Rejects_invalid_names_quoting_the_input(string input, string reason)
    {
        ServiceNameFormatException error = Assert.Throws<ServiceNameFormatException>(() => ServiceName.Parse(input));
        Assert.Contains($"'{input}'", error.Message);
        Assert.Contains(reason, error.Message);
    }

    [Fact]
    public void Namespace_comes_from_options_then_service_account_file_then_default()
    {
        string file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "team-a\n");
            Assert.Equal("explicit", ServiceNameDefaults.Resolve("explicit", namespaceFile: file).Namespace);
            Assert.Equal("team-a", ServiceNameDefaults.Resolve(null, namespaceFile: file).Namespace);
            Assert.Equal("default", ServiceNameDefaults.Resolve(null, namespaceFile: file + ".missing").Namespace);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Equality_is_service_namespace_and_port_selector()
    {
        Assert.Equal(ServiceName.Parse("http://payments.shop"), ServiceName.Parse("payments.shop.svc.cluster.local"));
        Assert.NotEqual(ServiceName.Parse("payments.shop:grpc"), ServiceName.Parse("payments.shop"));
        Assert.Equal("payments.shop:grpc", ServiceName.Parse("https://_grpc.payments.shop").Id);
    }
}

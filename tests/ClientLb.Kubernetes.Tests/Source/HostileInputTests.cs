using System.Buffers;
using System.Text;
using ClientLb.Endpoints;
using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Config;
using ClientLb.Kubernetes.Model;
using ClientLb.Kubernetes.Slices;
using ClientLb.Kubernetes.Sources;
using CsCheck;
using ClientEndpoint = ClientLb.Endpoints.Endpoint;

namespace ClientLb.Kubernetes.Tests.Source;

/// <summary>Issue 15: addresses from EndpointSlices follow the core's one rule; one bad endpoint is dropped and named.</summary>
public sealed class HostileInputTests
{
    private static EndpointSlice Slice(params string[] addresses) => new()
    {
        Metadata = new ObjectMeta { Name = "pay-abc", Namespace = "fin" },
        AddressType = "IPv4",
        Ports = [new EndpointPort { Name = "http", Port = 8080, Protocol = "TCP" }],
        Endpoints = [.. addresses.Select(a => new Model.Endpoint { Address = a, Conditions = new Model.EndpointConditions { Ready = true } })],
    };

    [Fact]
    public void Lenient_and_unusable_slice_addresses_are_dropped_and_named_the_rest_is_served()
    {
        string[] hostile = ["010.0.0.1", "10.1", "0x0a000001", "0.0.0.0", "255.255.255.255", "224.0.0.1", "169.254.169.254", "127.0.0.1"];
        var dropped = new List<(string Record, string Reason)>();

        List<ClientEndpoint> endpoints = EndpointMapper.Map([Slice([.. hostile, "10.1.0.5"])], new PortChoice("http", null), allowLoopback: false, (r, why) => dropped.Add((r, why)));

        Assert.Equal(["10.1.0.5:8080"], endpoints.Select(e => e.Authority));
        Assert.Equal(hostile.Length, dropped.Count);
        Assert.Contains(dropped, d => d.Record == "EndpointSlice pay-abc endpoint '010.0.0.1'" && d.Reason.Contains("reads it as 8.0.0.1", StringComparison.Ordinal));
        Assert.Contains(dropped, d => d.Record.Contains("'169.254.169.254'", StringComparison.Ordinal) && d.Reason.Contains("metadata", StringComparison.Ordinal));
        Assert.Contains(dropped, d => d.Record.Contains("'127.0.0.1'", StringComparison.Ordinal) && d.Reason.Contains("loopback", StringComparison.Ordinal));
    }

    [Fact]
    public void Loopback_slice_addresses_are_served_when_the_options_allow_them()
    {
        List<ClientEndpoint> endpoints = EndpointMapper.Map([Slice("127.244.0.5", "::1")], new PortChoice("http", null), allowLoopback: true);
        Assert.Equal(["127.244.0.5:8080", "[::1]:8080"], endpoints.Select(e => e.Authority));
    }

    [Theory]
    [InlineData(null, "https://127.0.0.1:6443", true)]   // the sandbox: its pods are loopback servers on this host
    [InlineData(null, "https://[::1]:6443", true)]
    [InlineData(null, "https://10.0.0.1:6443", false)]   // a real cluster: a loopback endpoint is forged or broken
    [InlineData(null, "https://api.example.com", false)]
    [InlineData(true, "https://10.0.0.1:6443", true)]
    [InlineData(false, "https://127.0.0.1:6443", false)]
    public void Loopback_endpoints_are_allowed_by_the_option_else_only_from_an_API_server_on_loopback(bool? option, string server, bool allowed) =>
        Assert.Equal(allowed, new KubernetesSourceOptions { AllowLoopbackEndpoints = option }.LoopbackEndpointsAllowed(new Uri(server)));

    [Fact]
    public void The_incremental_merge_drops_and_reports_a_bad_endpoint_once()
    {
        var dropped = new List<string>();
        var merger = new SliceMerger(allowLoopback: false, (record, _) => dropped.Add(record));
        EndpointSlice first = Slice("10.1.0.5", "010.0.0.1");
        merger.Update([first], new PortChoice("http", null), [], []);
        Assert.Equal(["10.1.0.5:8080"], merger.Endpoints.Select(e => e.Authority));
        Assert.Equal(1, merger.DroppedCount);

        // The same slice again, edited elsewhere: the bad endpoint is not reported a second time.
        EndpointSlice second = Slice("10.1.0.5", "010.0.0.1", "10.1.0.6");
        merger.Update([second], new PortChoice("http", null), [], []);
        Assert.Equal(["10.1.0.5:8080", "10.1.0.6:8080"], merger.Endpoints.Select(e => e.Authority).Order(StringComparer.Ordinal));
        Assert.Single(dropped);
    }

    // Found by tests/fuzz (target kubeconfig): YamlDotNet threw ArgumentException / InvalidOperationException out of the loader.
    [Theory]
    [InlineData("YXBpVmVyc2lvbjogdjEKa2luZDogQ29uZmlnCmN1cnJlbnQtY29NdGV4dDogYwpjbHVzdGVyczoKLSBuYW1lOiBrCiAgY2x1c3RlcjoKICAgIHNlcnZlcjogaHR0cHM6Ly9bOjoxXTo2NDQzCiAgICB0bHMtc2VydmVyLW5hbWU6IGt1YmVybmV0ZXMKdXNlcnM6Ci0gbmFtZTogdQogIHVzZXI6CiAgICBleGVjOgogICAgICBhcGlWZXJzaW9uOiBjbGllbnQuYXV0aGVudGljYXRpb24uazhzLmlvL3YxCiAgICAgIGNvbW1hbmQ6IGdldC10b2tlbgogICAgICBhcmdzOiBbIi0tY2x1c3RlciIsICJrIl0KICAgICAgZW52OgogICAgICAtIG5hbWU6IEEKICAgICAgICB2YWx1ZTogYgogICAgICBpbnRlcoBjdGl2ZU1vZGU6IE5ldmVyCmNvbnRleHRzOgotIDogaHR0cHM6Ly9bOjoxXTo2NG5hbWU6IGMKICBjb250ZXh0OiB7Y2x1c3RlcjogawQAdXNlcjogdX0K")]
    [InlineData("YXBpVmVyc2l5bjogezEKa2luZDogQ29uZmlnCmN7cnJlLSA6IGh0dHBzOi8vWzo6MV06NjR0ZXKAAAAAIG5hbWU6IGRldgogIGNsdXN0ZXI6CiAgICBzZXx2ZXI6IGh0dHBzOi8vMTI3LjAuGi4xOjY0NDMKICAgIGluc2VjdXJlLXNraXAtdWxzLXZlcmlmeTogdHJ1ZQp1c2VyczoKLSBuYW1lOiBkZXYK/wB1c2VyOgogICAgdG9rZW46F2FiIG5hbWU6IGRldgogIGNvbnRleHVzZXI6CiAgGiB0b2t1c2VyczoKLSBuYW1lZW46dDoKICAgc3R/cjogZGV2CiAgICB1c2VyOiBkZXYKICAgIG5hbWVzcGFjZTogc2hvcAo=")]
    public void A_kubeconfig_that_breaks_the_yaml_parser_is_a_config_error_naming_the_file(string base64)
    {
        string path = Path.Combine(Path.GetTempPath(), "clientlb-fuzz-regression-" + Guid.NewGuid().ToString("N"));
        File.WriteAllBytes(path, Convert.FromBase64String(base64));
        try
        {
            KubernetesConfigException error = Assert.Throws<KubernetesConfigException>(() => KubernetesConnection.Load(path));
            Assert.Contains(path, error.Message);
            Assert.Contains("not valid YAML", error.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    // Property: whatever a watch line holds, the decoder gives an event or InvalidDataException, and the mapping after it
    // yields only usable, canonical addresses.
    [Fact]
    public void Watch_lines_decode_to_an_event_or_a_data_error_and_map_to_usable_addresses_only()
    {
        Gen<string> address = Gen.OneOf(Gen.Const("10.1.0.5"), Gen.Const("010.0.0.1"), Gen.Const("169.254.169.254"), Gen.Const("::"), Gen.Const("fe80::1"),
            Gen.Const("fd00::1"), Gen.Const("2001:DB8::1"), Gen.String["0123456789.:abcdefx"]);
        Gen<string> line = Gen.Select(Gen.OneOf(Gen.Const("ADDED"), Gen.Const("MODIFIED"), Gen.Const("ERROR"), Gen.String), address.Array[0, 6], Gen.Int[-1, 70000],
            static (type, addresses, port) => "{\"type\":\"" + type.Replace("\"", "", StringComparison.Ordinal) + "\",\"object\":{\"metadata\":{\"name\":\"s\"},\"addressType\":\"IPv4\",\"endpoints\":["
                + string.Join(',', addresses.Select(a => "{\"addresses\":[\"" + a.Replace("\"", "", StringComparison.Ordinal) + "\"]}"))
                + "],\"ports\":[{\"name\":\"http\",\"port\":" + port.ToString(System.Globalization.CultureInfo.InvariantCulture) + "}]}}");
        Gen<byte[]> bytes = Gen.OneOf(line.Select(static l => Encoding.UTF8.GetBytes(l)), line.Select(static l => Encoding.UTF8.GetBytes(l)).SelectMany(b => Gen.Int[0, b.Length].Select(cut => b[..cut])), Gen.Byte.Array);
        bytes.Sample(input =>
        {
            WatchEvent<EndpointSlice> e;
            try
            {
                e = KubernetesApiClient.ParseEvent(new ReadOnlySequence<byte>(input), KubernetesJsonContext.Default.WatchEventEndpointSlice, "/p");
            }
            catch (InvalidDataException)
            {
                return true;
            }
            return e.Object is not EndpointSlice slice || EndpointMapper.Map([slice], new PortChoice("http", null)).All(m => EndpointAddress.CheckUsable(m.Address!, false) is null);
        }, iter: 3_000);
    }

    // Found by afl++ (tests/fuzz/corpus/watch/crash-invalid-utf8-name.json): a line that fails to decode and has a
    // property name that is not valid UTF-8 threw InvalidOperationException from the identity scan, not a data error.
    [Fact]
    public void A_watch_line_with_invalid_utf8_in_a_property_name_is_a_data_error()
    {
        byte[] found = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "../../../../fuzz/corpus/watch/crash-invalid-utf8-name.json"));
        InvalidDataException error = Assert.Throws<InvalidDataException>(() =>
            KubernetesApiClient.ParseEvent(new ReadOnlySequence<byte>(found), KubernetesJsonContext.Default.WatchEventEndpointSlice, "/p"));
        Assert.Contains("not valid JSON", error.Message, StringComparison.Ordinal);
    }

    // Property: a kubeconfig with any text in its fields loads or fails with KubernetesConfigException, never another exception.
    [Fact]
    public void Kubeconfig_text_loads_or_fails_with_a_config_error()
    {
        string path = Path.Combine(Path.GetTempPath(), "clientlb-prop-kubeconfig-" + Guid.NewGuid().ToString("N"));
        Gen<string> value = Gen.OneOf(Gen.Const("https://10.0.0.1:6443"), Gen.Const("\"\""), Gen.Const("[a, b]"), Gen.Const("{x: 1}"), Gen.Const("|\n  x"), Gen.String["abc:/[]{}-\"' \n\t&*!|>%@"]);
        try
        {
            Gen.Select(value, value, value, value).Sample((server, token, ns, current) =>
            {
                File.WriteAllText(path, $"apiVersion: v1\nkind: Config\ncurrent-context: {current}\nclusters:\n- name: c\n  cluster:\n    server: {server}\nusers:\n- name: u\n  user:\n    token: {token}\ncontexts:\n- name: {current}\n  context: {{cluster: c, user: u, namespace: {ns}}}\n");
                try
                {
                    return Uri.TryCreate(KubernetesConnection.Load(path).Host, UriKind.Absolute, out _);
                }
                catch (KubernetesConfigException)
                {
                    return true;
                }
            }, iter: 2_000);
        }
        finally
        {
            File.Delete(path);
        }
    }
}

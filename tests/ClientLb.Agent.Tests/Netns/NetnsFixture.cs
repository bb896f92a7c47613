using System.Diagnostics;

namespace ClientLb.Agent.Tests.Netns;

/// <summary>
/// A private test network: a switch namespace with a bridge, two client namespaces and three backend namespaces, each on
/// a veth into the bridge, addresses 10.231.0.0/24 and fd00:231::/64 inside them only and no route out. Backends serve HTTP on 8080 (body:
/// their name) and a UDP echo of their name on 9000. Everything is deleted at the end, also after a failure; without
/// root or a needed tool the fixture throws, so these tests fail with the reason instead of skipping.
/// </summary>
public sealed class NetnsFixture : IDisposable
{
    public const string Subnet = "10.231.0";
    public const int HttpPort = 8080;
    public const int UdpPort = 9000;

    private static readonly string[] Tools = ["ip", "nft", "conntrack", "curl", "python3", "java"];
    private readonly List<Process> _servers = [];
    private readonly List<string> _namespaces = [];

    public NetnsFixture()
    {
        if (!Environment.IsPrivilegedProcess)
        {
            throw new InvalidOperationException("The agent namespace tests need root (ip netns, nftables, setns). Run the tests as root.");
        }
        string[] missing = [.. Tools.Where(t => !Shell.OnPath(t))];
        if (missing.Length > 0)
        {
            throw new InvalidOperationException($"The agent namespace tests need {string.Join(", ", missing)}: apt-get install -y iproute2 nftables conntrack curl python3 default-jdk-headless.");
        }
        if (!File.Exists("/usr/lib/x86_64-linux-gnu/libnftables.so.1") && !File.Exists("/usr/lib/aarch64-linux-gnu/libnftables.so.1"))
        {
            throw new InvalidOperationException("libnftables.so.1 is missing: apt-get install -y nftables (libnftables1).");
        }
        string id = Convert.ToHexString(BitConverter.GetBytes(Random.Shared.Next()))[..6].ToLowerInvariant();
        Switch = $"clbt{id}-sw";
        Client = $"clbt{id}-c1";
        Client2 = $"clbt{id}-c2";
        Backends = [$"clbt{id}-b1", $"clbt{id}-b2", $"clbt{id}-b3"];
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Dispose();
        try
        {
            Build(id);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Switch { get; }

    /// <summary>The client namespace the shared agent programs (10.231.0.1).</summary>
    public string Client { get; }

    /// <summary>A second client namespace for an agent in another process (10.231.0.2).</summary>
    public string Client2 { get; }

    public string[] Backends { get; }

    public const string Subnet6 = "fd00:231::";

    public static string BackendAddress(int index) => $"{Subnet}.{11 + index}";

    public static string BackendAddress6(int index) => $"{Subnet6}{11 + index}";

    public static string BackendName(int index) => $"b{index + 1}";

    private void Build(string id)
    {
        foreach (string ns in (string[])[Switch, Client, Client2, .. Backends])
        {
            Shell.Must("ip", "netns", "add", ns);
            _namespaces.Add(ns);
            Shell.Must("ip", "-n", ns, "link", "set", "lo", "up");
        }
        Shell.Must("ip", "-n", Switch, "link", "add", "br0", "type", "bridge");
        Shell.Must("ip", "-n", Switch, "link", "set", "br0", "up");
        Attach(Client, $"{id}c1", $"{Subnet}.1", Subnet6 + "1");
        Attach(Client2, $"{id}c2", $"{Subnet}.2", Subnet6 + "2");
        for (int i = 0; i < Backends.Length; i++)
        {
            Attach(Backends[i], $"{id}b{i + 1}", BackendAddress(i), BackendAddress6(i));
        }
        foreach (string client in (string[])[Client, Client2])
        {
            // The VIP ranges are on-link: no default route, nothing leaves the test network.
            Shell.Must("ip", "-n", client, "route", "add", "10.96.0.0/16", "dev", "eth0");
            Shell.Must("ip", "-n", client, "-6", "route", "add", "fd00:96::/64", "dev", "eth0");
        }
        for (int i = 0; i < Backends.Length; i++)
        {
            StartServer(Backends[i], BackendName(i), BackendAddress(i), BackendAddress6(i));
        }
        for (int i = 0; i < Backends.Length; i++)
        {
            WaitForHttp(BackendAddress(i));
            WaitForHttp("[" + BackendAddress6(i) + "]");
        }
    }

    private void Attach(string ns, string name, string address, string address6)
    {
        // Interface names are made in the switch namespace, then one end moves into the target.
        Shell.Must("ip", "-n", Switch, "link", "add", "s" + name, "type", "veth", "peer", "name", "eth0", "netns", ns);
        Shell.Must("ip", "-n", Switch, "link", "set", "s" + name, "master", "br0");
        Shell.Must("ip", "-n", Switch, "link", "set", "s" + name, "up");
        Shell.Must("ip", "-n", ns, "addr", "add", address + "/24", "dev", "eth0");
        Shell.Must("ip", "-n", ns, "addr", "add", address6 + "/64", "dev", "eth0", "nodad");
        Shell.Must("ip", "-n", ns, "link", "set", "eth0", "up");
    }

    private void StartServer(string ns, string name, string address, string address6)
    {
        string script = $$"""
import http.server, socket, socketserver, threading
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b'{{name}}'
        self.send_response(200); self.send_header('Content-Length', str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('{{address}}', {{UdpPort}}))
    while True:
        data, peer = s.recvfrom(2048); s.sendto(b'{{name}}', peer)
class V6(socketserver.ThreadingTCPServer):
    address_family = socket.AF_INET6
threading.Thread(target=udp, daemon=True).start()
socketserver.ThreadingTCPServer.allow_reuse_address = True
V6.allow_reuse_address = True
threading.Thread(target=V6(('{{address6}}', {{HttpPort}}), H).serve_forever, daemon=True).start()
socketserver.ThreadingTCPServer(('{{address}}', {{HttpPort}}), H).serve_forever()
""";
        var start = new ProcessStartInfo("ip") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string a in (string[])["netns", "exec", ns, "python3", "-c", script])
        {
            start.ArgumentList.Add(a);
        }
        _servers.Add(Process.Start(start)!);
    }

    private void WaitForHttp(string address)
    {
        DateTime deadline = DateTime.UtcNow.AddSeconds(15);
        while (DateTime.UtcNow < deadline)
        {
            if (Shell.InNs(Client, $"curl -g -s -m 1 http://{address}:{HttpPort}/").ExitCode == 0)
            {
                return;
            }
            Thread.Sleep(100);
        }
        throw new InvalidOperationException($"The backend HTTP server on {address}:{HttpPort} did not start.");
    }

    public void Dispose()
    {
        lock (_servers)
        {
            foreach (Process server in _servers)
            {
                try
                {
                    if (!server.HasExited)
                    {
                        server.Kill(entireProcessTree: true);
                        server.WaitForExit(5000);
                    }
                }
                catch (InvalidOperationException)
                {
                }
                server.Dispose();
            }
            _servers.Clear();
            foreach (string ns in _namespaces)
            {
                Shell.Run("ip", "netns", "del", ns);
            }
            _namespaces.Clear();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class NetnsCollection : ICollectionFixture<NetnsFixture>
{
    public const string Name = "network namespaces";
}

using System.Diagnostics;

namespace ClientLb.Agent.Tests.Netns;

/// <summary>Real clients in a namespace: curl, a UDP socket with a fixed source port, java.net.http.</summary>
internal static class Traffic
{
    /// <summary>Runs <paramref name="count"/> curls to <paramref name="url"/>; each line is a body or <c>ERR:code</c>.</summary>
    public static List<string> Curl(string ns, string url, int count, int timeoutSeconds = 2)
    {
        string script = $"for i in $(seq {count}); do out=$(curl -s -m {timeoutSeconds} {url}); rc=$?; if [ $rc -eq 0 ]; then echo \"$out\"; else echo ERR:$rc; fi; done";
        (int code, string output, string error) = Shell.InNs(ns, script, timeoutSeconds * count + 30);
        Assert.True(code == 0, $"curl loop failed: {error}");
        return [.. output.Split('\n', StringSplitOptions.RemoveEmptyEntries)];
    }

    /// <summary>Runs the seed's java.net.http client (a new HttpClient, hence a new connection, per request).</summary>
    public static List<string> Java(string ns, string url, int count)
    {
        string dir = Path.Combine(Path.GetTempPath(), "clientlb-java-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string source = Path.Combine(dir, "Client.java");
            File.WriteAllText(source, $$"""
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

public class Client {
  public static void main(String[] args) {
    for (int i = 0; i < {{count}}; i++) {
      HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
      HttpRequest request = HttpRequest.newBuilder().uri(URI.create("{{url}}")).timeout(Duration.ofSeconds(2)).GET().build();
      try {
        System.out.println(client.sendAsync(request, HttpResponse.BodyHandlers.ofString()).thenApply(HttpResponse::body).join());
      } catch (Exception e) {
        System.out.println("ERR:" + e.getClass().getSimpleName());
      }
    }
  }
}
""");
            (int code, string output, string error) = Shell.Run("ip", ["netns", "exec", ns, "java", source], TimeSpan.FromSeconds(90));
            Assert.True(code == 0, $"java failed ({code}): {error}");
            return [.. output.Split('\n', StringSplitOptions.RemoveEmptyEntries)];
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>One curl; returns its exit code, what it printed on error, and how long it took.</summary>
    public static (int ExitCode, string Error, TimeSpan Elapsed) CurlOnce(string ns, string url, int timeoutSeconds = 5)
    {
        var watch = Stopwatch.StartNew();
        (int code, _, string error) = Shell.InNs(ns, $"curl -sS -m {timeoutSeconds} {url}", timeoutSeconds + 30);
        return (code, error, watch.Elapsed);
    }

    /// <summary>Sends <paramref name="count"/> datagrams from one fixed source port; returns the replies (TIMEOUT; REJECTED for an ICMP unreachable or a local reject).</summary>
    public static List<string> Udp(string ns, string vip, int port, int sourcePort, int count)
    {
        string script = $$"""
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', {{sourcePort}}))
s.settimeout(1.0)
for i in range({{count}}):
    try:
        s.sendto(b'x', ('{{vip}}', {{port}}))
        print(s.recvfrom(2048)[0].decode())
    except socket.timeout:
        print('TIMEOUT')
    except (ConnectionRefusedError, PermissionError):
        print('REJECTED')
""";
        (int code, string output, string error) = Shell.Run("ip", ["netns", "exec", ns, "python3", "-c", script], TimeSpan.FromSeconds(count * 2 + 20));
        Assert.True(code == 0, $"UDP client failed: {error}");
        return [.. output.Split('\n', StringSplitOptions.RemoveEmptyEntries)];
    }
}

using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using SignalRChat.Tests.Infrastructure;

namespace SignalRChat.Tests;

public sealed class HealthTests
{
    [Fact]
    public async Task Live_and_ready_answer_200_Healthy_and_ready_reports_its_checks_as_json()
    {
        await using var server = await ChatServer.StartAsync();
        using var http = server.CreateHttpClient();

        foreach (var path in new[] { "/health", "/health/live", "/health/ready" })
        {
            var response = await http.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("Healthy", await response.Content.ReadAsStringAsync());
        }

        using var request = new HttpRequestMessage(HttpMethod.Get, "/health/ready");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        var report = await http.SendAsync(request);
        Assert.Equal("application/json", report.Content.Headers.ContentType?.MediaType);
        using var json = JsonDocument.Parse(await report.Content.ReadAsStringAsync());
        Assert.Equal("Healthy", json.RootElement.GetProperty("status").GetString());
        var entries = json.RootElement.GetProperty("entries");
        // What a check says is for signed-in callers only (see HardeningTests).
        Assert.Equal("Healthy", entries.GetProperty("model").GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Null, entries.GetProperty("model").GetProperty("description").ValueKind);
        Assert.False(entries.TryGetProperty("redis", out _), "no Redis check without ConnectionStrings:Redis");
    }

    [Fact]
    public async Task Ready_is_503_while_Redis_hangs_or_is_gone_and_200_again_when_it_is_back_while_live_stays_200()
    {
        var redis = await RedisServer.StartAsync();
        var redisRunning = true;
        try
        {
            await using var server = await ChatServer.StartAsync(redis.NodeSettings());
            using var http = server.CreateHttpClient();

            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health/ready")).StatusCode);

            // A hung Redis: the probe answers (within its timeout, never hanging) that the node is not ready.
            redis.Pause();
            try
            {
                var hung = await http.GetAsync("/health/ready");
                Assert.Equal(HttpStatusCode.ServiceUnavailable, hung.StatusCode);
                Assert.Equal("Unhealthy", await hung.Content.ReadAsStringAsync());
                Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health/live")).StatusCode);
                Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health")).StatusCode);
            }
            finally
            {
                redis.Continue();
            }

            await WaitForReadyAsync(http, HttpStatusCode.OK);

            // Redis killed, then started again on the same port: not ready, then ready once the connection is back.
            var port = redis.Port;
            redisRunning = false;
            await redis.DisposeAsync();
            await WaitForReadyAsync(http, HttpStatusCode.ServiceUnavailable);
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health/live")).StatusCode);

            using var restarted = StartRedisOnPort(port);
            await WaitForReadyAsync(http, HttpStatusCode.OK);
        }
        finally
        {
            if (redisRunning)
            {
                await redis.DisposeAsync();
            }
        }
    }

    // Readiness follows the connection, which the client library restores on its own schedule: poll until it says so.
    private static async Task WaitForReadyAsync(HttpClient http, HttpStatusCode expected)
    {
        var deadline = Stopwatch.StartNew();
        HttpStatusCode last;
        do
        {
            last = (await http.GetAsync("/health/ready")).StatusCode;
            if (last == expected)
            {
                return;
            }

            await Task.Delay(200);
        }
        while (deadline.Elapsed < TimeSpan.FromSeconds(30));

        Assert.Fail($"/health/ready stayed {(int)last}, expected {(int)expected}");
    }

    private static RestartedRedis StartRedisOnPort(int port)
    {
        var start = new ProcessStartInfo("redis-server") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { "--port", port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no" })
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start)!;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new RestartedRedis(process);
    }

    private sealed class RestartedRedis(Process process) : IDisposable
    {
        public void Dispose()
        {
            if (!process.HasExited)
            {
                process.Kill();
                process.WaitForExit();
            }

            process.Dispose();
        }
    }
}

using System.Net.Http.Headers;
using SignalRChat.Client;
using SignalRChat.Tests.Infrastructure;
using StackExchange.Redis;

namespace SignalRChat.Tests;

/// <summary>Text is stored and streamed as UTF-8 JSON, not as a <c>\u</c> escape for every non-ASCII character.</summary>
public sealed class Utf8JsonTests
{
    // Characters outside the Basic Multilingual Plane (emoji) are still written as escaped surrogate pairs by System.Text.Json.
    private const string Text = "héllo 世界 <b>&</b> ünïcödé";

    [Fact]
    public async Task Sse_and_the_Redis_log_carry_non_ASCII_text_as_it_is()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var server = await ChatServer.StartAsync(redis.NodeSettings());
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("utf8");
        var sent = await alice.AskAsync("utf8", Text);
        await log.WaitForFinalAsync(sent.GenerationId);

        await using var admin = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var stored = (await admin.GetDatabase().SortedSetRangeByRankAsync("chat:{room:utf8}:log")).Select(v => (string)v!).ToList();
        Assert.Contains(stored, e => e.Contains(Text, StringComparison.Ordinal));
        Assert.DoesNotContain(stored, e => e.Contains("\\u4E16", StringComparison.OrdinalIgnoreCase));

        using var http = server.CreateHttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/rooms/utf8/events");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", alice.Session!.Token);
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        await using var sse = new SseReader(await response.Content.ReadAsStreamAsync());
        SseFrame? frame;
        do
        {
            frame = await sse.NextAsync();
        }
        while (frame is { Event: null });

        Assert.Equal("snapshot", frame?.Event);
        Assert.Contains(Text.Replace("\"", "\\\""), frame!.Data);
        Assert.Contains((await alice.JoinRoomAsync("utf8")).Messages, m => m.Text == Text);
    }
}

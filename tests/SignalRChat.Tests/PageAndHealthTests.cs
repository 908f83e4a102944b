using System.Net;
using SignalRChat.Tests.Infrastructure;

namespace SignalRChat.Tests;

public sealed class PageAndHealthTests
{
    [Fact]
    public async Task The_page_and_the_health_check_answer_200()
    {
        await using var server = await ChatServer.StartAsync();
        using var http = server.CreateHttpClient();

        var page = await http.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);

        var health = await http.GetAsync("/health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }
}

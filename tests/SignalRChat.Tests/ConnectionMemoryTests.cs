using Microsoft.AspNetCore.Http.Features.Authentication;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.DependencyInjection;
using SignalRChat.Server.Fanout;
using SignalRChat.Tests.Infrastructure;

namespace SignalRChat.Tests;

/// <summary>What an open hub connection keeps for as long as it is open: its user, not the request's machinery that admitted it.</summary>
public sealed class ConnectionMemoryTests
{
    [Fact]
    public async Task An_open_hub_connection_keeps_its_user_but_not_the_services_or_the_authentication_result_of_its_request()
    {
        await using var server = await ChatServer.StartAsync();
        var alice = await server.ConnectAsync("alice");
        await alice.JoinRoomAsync("lobby");

        var sender = server.Services.GetRequiredService<ConnectionRegistry>().All.Single(c => c.UserId == alice.Session!.UserId);
        var http = sender.Connection.GetHttpContext()!;
        // The request's scope was disposed once the connection was up; what reads the request's services now gets the application's.
        Assert.Same(server.Services.GetRequiredService<IServiceProvider>(), http.RequestServices);
        Assert.Null(http.Features.Get<Microsoft.AspNetCore.Authentication.IAuthenticateResultFeature>()?.AuthenticateResult);
        Assert.Equal(alice.Session!.UserId, http.Features.Get<IHttpAuthenticationFeature>()!.User!.FindFirst("sub")!.Value);

        // The connection goes on working: hub calls get scopes of their own.
        var sent = await alice.SendMessageAsync("lobby", "still here");
        Assert.Contains((await alice.GetHistoryAsync("lobby", 0, 50)).Messages, m => m.MessageId == sent.MessageId);
    }
}

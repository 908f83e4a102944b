namespace SignalRChat.Tests.Infrastructure;

/// <summary>One PostgreSQL server for all tests of a class (xunit class fixture), so the suite starts it once a class.</summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    public PostgresServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await PostgresServer.StartAsync();

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

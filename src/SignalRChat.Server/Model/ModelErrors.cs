using System.ClientModel;
using Azure.Identity;

namespace SignalRChat.Server.Model;

/// <summary>Turns a model or tool failure into a short sentence for the room: never a stack trace, never a secret.</summary>
internal static class ModelErrors
{
    public static string Describe(Exception exception) => exception switch
    {
        OfflineModelException offline => offline.Message,
        ModelServerException server => server.Message,
        HttpRequestException => "could not reach the model server",
        TimeoutException => "the model server did not answer in time",
        ModelOutputException output => output.Message,
        _ => "the reply failed because of an internal error",
    };

    /// <summary>
    /// A readable sentence for a failure of the model server, or null when the exception is not one.
    /// Only the status code and the server's address are used: a server's error body may echo the key.
    /// </summary>
    public static string? DescribeUpstream(Exception exception, string server) => exception switch
    {
        ClientResultException { Status: 401 or 403 } => "the model server refused the key",
        ClientResultException { Status: 0 } when BrokeMidway(exception) => $"the connection to the model server at {server} broke",
        ClientResultException { Status: 0 } => $"could not reach the model server at {server}",
        ClientResultException { Status: 404 } => $"the model server at {server} does not know that model or deployment (HTTP 404)",
        ClientResultException { Status: 408 } => "the model server did not answer in time (HTTP 408)",
        ClientResultException { Status: 429 } => "the model server is limiting requests (HTTP 429); try again shortly",
        ClientResultException { Status: >= 500 } c => $"the model server failed (HTTP {c.Status})",
        ClientResultException c => $"the model server rejected the request (HTTP {c.Status})",
        AuthenticationFailedException or CredentialUnavailableException =>
            "no Entra ID credential for Azure OpenAI could be used: set Chat:AzureOpenAI:ApiKey or sign in (az login, managed identity)",
        HttpRequestException { StatusCode: null } when BrokeMidway(exception) => $"the connection to the model server at {server} broke",
        HttpRequestException { StatusCode: null } => $"could not reach the model server at {server}",
        HttpRequestException h => $"the model server answered HTTP {(int)h.StatusCode!}",
        IOException => $"the connection to the model server at {server} broke",
        TimeoutException or TaskCanceledException => "the model server did not answer in time",
        _ => null,
    };

    // A refused or unresolvable connection never reached the server; a reset or an early end of the answer did.
    private static bool BrokeMidway(Exception exception)
    {
        for (var inner = exception; inner is not null; inner = inner.InnerException)
        {
            switch (inner)
            {
                case HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.SecureConnectionError }:
                case System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.ConnectionRefused or System.Net.Sockets.SocketError.HostNotFound or System.Net.Sockets.SocketError.HostUnreachable or System.Net.Sockets.SocketError.NetworkUnreachable }:
                    return false;
                case HttpRequestException { HttpRequestError: HttpRequestError.ResponseEnded }:
                case IOException:
                    return true;
            }
        }

        return false;
    }

    /// <summary>The HTTP status a model server answered with, when the failure is one.</summary>
    public static int? StatusOf(Exception exception) => exception switch
    {
        ClientResultException { Status: > 0 } c => c.Status,
        HttpRequestException { StatusCode: { } code } => (int)code,
        _ => null,
    };

    /// <summary>Failures worth another try: rate limits, server errors, lost connections.</summary>
    public static bool IsTransient(Exception exception) => exception switch
    {
        ClientResultException { Status: 0 or 408 or 429 or >= 500 } => true,
        HttpRequestException { StatusCode: null } => true,
        HttpRequestException h => (int)h.StatusCode! is 408 or 429 or >= 500,
        IOException => true,
        _ => false,
    };

    /// <summary>The server's Retry-After, when it sent one in seconds.</summary>
    public static TimeSpan? RetryAfter(Exception exception) =>
        exception is ClientResultException c && c.GetRawResponse() is { } response
        && response.Headers.TryGetValue("Retry-After", out var value) && int.TryParse(value, out var seconds) && seconds >= 0
            ? TimeSpan.FromSeconds(seconds)
            : null;
}

/// <summary>The model answered, but with output that could not be used.</summary>
public sealed class ModelOutputException(string message) : Exception(message);

/// <summary>A failure of the model server, told in a sentence fit for the room (no body, no key).</summary>
public sealed class ModelServerException(string message) : Exception(message)
{
    /// <summary>The server's HTTP status, when it answered with one (400: it refused the input).</summary>
    public int? Status { get; init; }
}

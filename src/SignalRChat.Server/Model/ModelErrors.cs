namespace SignalRChat.Server.Model;

/// <summary>Turns a model or tool failure into a short sentence for the room: never a stack trace, never a secret.</summary>
internal static class ModelErrors
{
    public static string Describe(Exception exception) => exception switch
    {
        OfflineModelException offline => offline.Message,
        HttpRequestException =>
            "could not reach the model server",
        TimeoutException => "the model server did not answer in time",
        ModelOutputException output => output.Message,
        _ => "the reply failed because of an internal error",
    };
}

/// <summary>The model answered, but with output that could not be used.</summary>
public sealed class ModelOutputException(string message) : Exception(message);

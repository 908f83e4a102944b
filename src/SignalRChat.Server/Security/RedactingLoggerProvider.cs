namespace SignalRChat.Server.Security;

/// <summary>
/// Wraps a logger provider so that every message, structured value and exception text it receives
/// has passed the <see cref="Redactor"/>. ASP.NET's request logging prints whole URLs, query string
/// included, which is where WebSocket and EventSource clients carry their token.
/// </summary>
internal sealed class RedactingLoggerProvider(ILoggerProvider inner, Redactor redactor) : ILoggerProvider, ISupportExternalScope
{
    public ILogger CreateLogger(string categoryName) => new RedactingLogger(inner.CreateLogger(categoryName), redactor);

    public void SetScopeProvider(IExternalScopeProvider scopeProvider)
    {
        if (inner is ISupportExternalScope scoped)
        {
            scoped.SetScopeProvider(scopeProvider);
        }
    }

    public void Dispose() => inner.Dispose();

    /// <summary>Wraps every <see cref="ILoggerProvider"/> registered so far, so none of them sees an unredacted line.</summary>
    public static void WrapAll(IServiceCollection services, Redactor redactor)
    {
        for (var i = 0; i < services.Count; i++)
        {
            var descriptor = services[i];
            if (descriptor.ServiceType != typeof(ILoggerProvider) || descriptor.IsKeyedService)
            {
                continue;
            }

            services[i] = ServiceDescriptor.Singleton<ILoggerProvider>(sp => new RedactingLoggerProvider(Create(sp, descriptor), redactor));
        }
    }

    private static ILoggerProvider Create(IServiceProvider services, ServiceDescriptor descriptor) =>
        (ILoggerProvider)(descriptor.ImplementationInstance
                          ?? descriptor.ImplementationFactory?.Invoke(services)
                          ?? ActivatorUtilities.CreateInstance(services, descriptor.ImplementationType!));

    private sealed class RedactingLogger(ILogger inner, Redactor redactor) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!inner.IsEnabled(logLevel))
            {
                return;
            }

            var message = redactor.Redact(formatter(state, exception));
            var values = state is IEnumerable<KeyValuePair<string, object?>> pairs
                ? pairs.Select(p => new KeyValuePair<string, object?>(p.Key, p.Key == "{OriginalFormat}" ? p.Value : redactor.Redact(p.Value))).ToList()
                : [];
            inner.Log(logLevel, eventId, new RedactedState(message, values), RedactedException.From(exception, redactor), static (s, _) => s.Message);
        }
    }

    private sealed class RedactedState(string message, IReadOnlyList<KeyValuePair<string, object?>> values) : IReadOnlyList<KeyValuePair<string, object?>>
    {
        public string Message { get; } = message;

        public int Count => values.Count;

        public KeyValuePair<string, object?> this[int index] => values[index];

        public IEnumerator<KeyValuePair<string, object?>> GetEnumerator() => values.GetEnumerator();

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

        public override string ToString() => Message;
    }

    /// <summary>Stands in for an exception whose text carried a credential.</summary>
    private sealed class RedactedException(string message, string text, string? stackTrace) : Exception(message)
    {
        public static Exception? From(Exception? exception, Redactor redactor)
        {
            if (exception is null)
            {
                return null;
            }

            var text = exception.ToString();
            var redacted = redactor.Redact(text);
            return ReferenceEquals(text, redacted) || text == redacted
                ? exception
                : new RedactedException(redactor.Redact(exception.Message), redacted, exception.StackTrace);
        }

        public override string? StackTrace => stackTrace;

        public override string ToString() => text;
    }
}

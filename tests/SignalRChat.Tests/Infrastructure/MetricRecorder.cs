using System.Diagnostics.Metrics;

namespace SignalRChat.Tests.Infrastructure;

/// <summary>Listens to one server's SignalRChat meter (other servers in this process have their own).</summary>
public sealed class MetricRecorder : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly Dictionary<string, List<Measurement>> _measurements = [];
    private readonly List<(string Name, Func<IReadOnlyList<Measurement>, bool> Match, TaskCompletionSource Done)> _waiters = [];

    public MetricRecorder(IMeterFactory scope)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "SignalRChat" && ReferenceEquals(instrument.Meter.Scope, scope))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) => Add(instrument.Name, value));
        _listener.SetMeasurementEventCallback<int>((instrument, value, _, _) => Add(instrument.Name, value));
        _listener.SetMeasurementEventCallback<double>((instrument, value, _, _) => Add(instrument.Name, value));
        _listener.Start();
    }

    public void Observe() => _listener.RecordObservableInstruments();

    public double Sum(string name) => Snapshot(name).Sum(m => m.Value);

    public double Last(string name) => Snapshot(name).LastOrDefault()?.Value ?? double.NaN;

    public Task WaitForAsync(string name, Func<IReadOnlyList<Measurement>, bool> match)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_measurements)
        {
            if (match(Snapshot(name)))
            {
                return Task.CompletedTask;
            }

            _waiters.Add((name, match, done));
        }

        return done.Task.WaitAsync(EventLog.DefaultTimeout);
    }

    public void Dispose() => _listener.Dispose();

    private List<Measurement> Snapshot(string name)
    {
        lock (_measurements)
        {
            return _measurements.TryGetValue(name, out var list) ? list.ToList() : [];
        }
    }

    private void Add(string name, double value)
    {
        lock (_measurements)
        {
            if (!_measurements.TryGetValue(name, out var list))
            {
                _measurements[name] = list = [];
            }

            list.Add(new Measurement(value));
            foreach (var waiter in _waiters.Where(w => w.Name == name && w.Match(list)).ToList())
            {
                waiter.Done.TrySetResult();
                _waiters.Remove(waiter);
            }
        }
    }

    public sealed record Measurement(double Value);
}

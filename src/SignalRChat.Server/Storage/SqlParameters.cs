using System.Data;
using System.Data.Common;

namespace SignalRChat.Server.Storage;

/// <summary>Typed parameters, so that both databases know a null's type.</summary>
internal static class SqlParameters
{
    public static void Add(DbCommand command, string name, string? value) => Add(command, name, DbType.String, value);

    public static void Add(DbCommand command, string name, long value) => Add(command, name, DbType.Int64, value);

    private static void Add(DbCommand command, string name, DbType type, object? value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.DbType = type;
        parameter.Value = value ?? DBNull.Value;
        command.Parameters.Add(parameter);
    }
}

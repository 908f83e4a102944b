using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace SignalRChat.Contracts;

/// <summary>The contract's JSON rules that attributes cannot say: applied to every serializer that writes the contract's records.</summary>
public static class ContractJson
{
    /// <summary>
    /// A <c>cancelled</c> status always carries <c>cancelledBy</c> (null when the server stopped the
    /// reply); every other status leaves it out.
    /// </summary>
    public static void Modify(JsonTypeInfo typeInfo)
    {
        if (typeInfo.Type != typeof(StatusEvent))
        {
            return;
        }

        foreach (var property in typeInfo.Properties)
        {
            if (property.Name == "cancelledBy")
            {
                property.ShouldSerialize = static (status, value) => value is not null || ((StatusEvent)status).State == GenerationStates.Cancelled;
            }
        }
    }

    /// <summary>Adds <see cref="Modify"/> to <paramref name="options"/> (camelCase web defaults expected).</summary>
    public static JsonSerializerOptions Apply(JsonSerializerOptions options)
    {
        options.TypeInfoResolver = (options.TypeInfoResolver ?? new DefaultJsonTypeInfoResolver()).WithAddedModifier(Modify);
        return options;
    }
}

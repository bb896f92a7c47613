using System.Collections.Immutable;
using System.Reflection.Emit;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;
using System.Text;

namespace ClientLb.Tests.Architecture;

/// <summary>
/// Which namespaces (folders) of one compiled assembly use which, read from its metadata: base types, interfaces,
/// generic arguments and constraints, fields, method and property signatures, locals, every type, method and field
/// token in method bodies, caught exception types and attributes (constructor and <c>typeof</c> arguments). Nested types
/// (closures, state machines) count as their top-level type. Compiler-made types (names starting with '&lt;': file-local
/// types of source generators, anonymous types, &lt;PrivateImplementationDetails&gt;) and embedded compiler attributes are
/// no node. Constants are inlined by the compiler, so a use of one leaves no trace here.
/// </summary>
internal sealed class NamespaceGraph
{
    private readonly Dictionary<string, Dictionary<string, SortedSet<string>>> _edges = new(StringComparer.Ordinal);

    private NamespaceGraph(string assembly, IEnumerable<string> namespaces)
    {
        Assembly = assembly;
        Namespaces = [.. namespaces.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
    }

    public string Assembly { get; }

    /// <summary>The namespaces that hold at least one type written by hand.</summary>
    public ImmutableArray<string> Namespaces { get; }

    /// <summary>The namespaces <paramref name="from"/> uses, with the type-to-type references that make each edge.</summary>
    public IReadOnlyDictionary<string, SortedSet<string>> Uses(string from) =>
        _edges.TryGetValue(from, out Dictionary<string, SortedSet<string>>? to) ? to : new Dictionary<string, SortedSet<string>>();

    public IEnumerable<(string From, string To, SortedSet<string> Evidence)> Edges =>
        from e in _edges.OrderBy(e => e.Key, StringComparer.Ordinal)
        from t in e.Value.OrderBy(t => t.Key, StringComparer.Ordinal)
        select (e.Key, t.Key, t.Value);

    /// <param name="path">The assembly.</param>
    /// <param name="folderOf">Maps a namespace to the node it counts as (a folder with its subfolders); the namespace itself by default.</param>
    public static NamespaceGraph Read(string path, Func<string, string>? folderOf = null)
    {
        folderOf ??= static ns => ns;
        using FileStream stream = File.OpenRead(path);
        using var pe = new PEReader(stream);
        MetadataReader md = pe.GetMetadataReader();
        var types = new TypeTable(md);
        var graph = new NamespaceGraph(md.GetString(md.GetAssemblyDefinition().Name), types.Nodes.Select(types.NamespaceOf).Select(folderOf));
        foreach (TypeDefinitionHandle handle in md.TypeDefinitions)
        {
            TypeDefinitionHandle owner = types.TopLevel(handle);
            if (!types.IsNode(owner))
            {
                continue;
            }
            var sink = new References(md, pe, types);
            sink.AddType(handle);
            string from = folderOf(types.NamespaceOf(owner));
            foreach (TypeDefinitionHandle used in sink.Found)
            {
                TypeDefinitionHandle target = types.TopLevel(used);
                if (types.IsNode(target) && folderOf(types.NamespaceOf(target)) is string to && to != from)
                {
                    graph.Add(from, to, $"{types.NameOf(owner)} -> {types.NameOf(target)}");
                }
            }
        }
        return graph;
    }

    private void Add(string from, string to, string evidence)
    {
        if (!_edges.TryGetValue(from, out Dictionary<string, SortedSet<string>>? targets))
        {
            _edges[from] = targets = new Dictionary<string, SortedSet<string>>(StringComparer.Ordinal);
        }
        if (!targets.TryGetValue(to, out SortedSet<string>? evidences))
        {
            targets[to] = evidences = new SortedSet<string>(StringComparer.Ordinal);
        }
        evidences.Add(evidence);
    }

    /// <summary>The strongly connected groups of more than one namespace (Tarjan), each a set of folders in a cycle.</summary>
    public IReadOnlyList<ImmutableArray<string>> Cycles()
    {
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        var low = new Dictionary<string, int>(StringComparer.Ordinal);
        var stack = new Stack<string>();
        var onStack = new HashSet<string>(StringComparer.Ordinal);
        var groups = new List<ImmutableArray<string>>();
        int next = 0;

        void Visit(string node)
        {
            index[node] = low[node] = next++;
            stack.Push(node);
            onStack.Add(node);
            foreach (string to in Uses(node).Keys.Order(StringComparer.Ordinal))
            {
                if (!index.ContainsKey(to))
                {
                    Visit(to);
                    low[node] = Math.Min(low[node], low[to]);
                }
                else if (onStack.Contains(to))
                {
                    low[node] = Math.Min(low[node], index[to]);
                }
            }
            if (low[node] == index[node])
            {
                var group = new List<string>();
                string member;
                do
                {
                    member = stack.Pop();
                    onStack.Remove(member);
                    group.Add(member);
                }
                while (member != node);
                if (group.Count > 1)
                {
                    groups.Add([.. group.Order(StringComparer.Ordinal)]);
                }
            }
        }

        foreach (string node in Namespaces)
        {
            if (!index.ContainsKey(node))
            {
                Visit(node);
            }
        }
        return groups;
    }

    /// <summary>A shortest cycle through <paramref name="start"/> inside <paramref name="group"/> (breadth first), start repeated at the end.</summary>
    public IReadOnlyList<string> CycleThrough(string start, IReadOnlyCollection<string> group)
    {
        var parent = new Dictionary<string, string>(StringComparer.Ordinal);
        var queue = new Queue<string>([start]);
        while (queue.Count > 0)
        {
            string node = queue.Dequeue();
            foreach (string to in Uses(node).Keys.Where(group.Contains).Order(StringComparer.Ordinal))
            {
                if (to == start)
                {
                    var path = new List<string> { start };
                    for (string at = node; at != start; at = parent[at])
                    {
                        path.Insert(1, at);
                    }
                    path.Add(start);
                    return path;
                }
                if (parent.TryAdd(to, node))
                {
                    queue.Enqueue(to);
                }
            }
        }
        throw new InvalidOperationException($"{start} is in no cycle of {string.Join(", ", group)}");
    }

    /// <summary>Every cycle group, a shortest cycle in it with the references of each step, then every edge inside the group.</summary>
    public string DescribeCycles()
    {
        var text = new StringBuilder();
        foreach (ImmutableArray<string> group in Cycles())
        {
            text.AppendLine($"{Assembly}: {group.Length} namespaces depend on each other: {string.Join(", ", group)}");
            IReadOnlyList<string> cycle = CycleThrough(group[0], group);
            text.AppendLine("  cycle: " + string.Join(" -> ", cycle));
            for (int i = 0; i + 1 < cycle.Count; i++)
            {
                AppendEdge(text, cycle[i], cycle[i + 1], "    ");
            }
            text.AppendLine("  every edge inside the group:");
            foreach ((string from, string to, SortedSet<string> evidence) in Edges.Where(e => group.Contains(e.From) && group.Contains(e.To)))
            {
                text.AppendLine($"    {from} -> {to} ({evidence.Count} references, e.g. {evidence.First()})");
            }
        }
        return text.ToString();
    }

    public void AppendEdge(StringBuilder text, string from, string to, string indent, int examples = 5)
    {
        SortedSet<string> evidence = Uses(from)[to];
        text.AppendLine($"{indent}{from} -> {to}: {string.Join("; ", evidence.Take(examples))}{(evidence.Count > examples ? $"; and {evidence.Count - examples} more" : "")}");
    }

    /// <summary>The assembly's own types: which are nodes, their namespaces and names, and lookups by name for attribute arguments.</summary>
    private sealed class TypeTable
    {
        private readonly MetadataReader _md;
        private readonly Dictionary<string, TypeDefinitionHandle> _byName = new(StringComparer.Ordinal);

        public TypeTable(MetadataReader md)
        {
            _md = md;
            foreach (TypeDefinitionHandle handle in md.TypeDefinitions)
            {
                _byName[SerializedName(handle)] = handle;
            }
            Nodes = [.. md.TypeDefinitions.Where(h => md.GetTypeDefinition(h).GetDeclaringType().IsNil && IsNode(h))];
        }

        public ImmutableArray<TypeDefinitionHandle> Nodes { get; }

        public TypeDefinitionHandle TopLevel(TypeDefinitionHandle handle)
        {
            for (TypeDefinitionHandle declaring = _md.GetTypeDefinition(handle).GetDeclaringType(); !declaring.IsNil;
                 declaring = _md.GetTypeDefinition(handle).GetDeclaringType())
            {
                handle = declaring;
            }
            return handle;
        }

        public bool IsNode(TypeDefinitionHandle topLevel)
        {
            TypeDefinition type = _md.GetTypeDefinition(topLevel);
            return !_md.GetString(type.Name).StartsWith('<') && !type.GetCustomAttributes().Any(IsCompilerGenerated);
        }

        public string NamespaceOf(TypeDefinitionHandle handle) => _md.GetString(_md.GetTypeDefinition(TopLevel(handle)).Namespace);

        public string NameOf(TypeDefinitionHandle handle)
        {
            string name = _md.GetString(_md.GetTypeDefinition(handle).Name);
            int tick = name.IndexOf('`', StringComparison.Ordinal);
            return tick < 0 ? name : name[..tick];
        }

        public TypeDefinitionHandle? FindSerialized(string name)
        {
            // "Namespace.Outer+Inner, Assembly, Version=..." or a generic "Name`1[[...]]": the type itself is enough here.
            int end = name.IndexOfAny([',', '[']);
            return _byName.TryGetValue(end < 0 ? name : name[..end], out TypeDefinitionHandle handle) ? handle : null;
        }

        public TypeDefinitionHandle? Find(string @namespace, string name) =>
            _byName.TryGetValue(@namespace.Length == 0 ? name : @namespace + "." + name, out TypeDefinitionHandle handle) ? handle : null;

        public PrimitiveTypeCode? EnumUnderlyingType(TypeDefinitionHandle handle)
        {
            foreach (FieldDefinitionHandle field in _md.GetTypeDefinition(handle).GetFields())
            {
                FieldDefinition definition = _md.GetFieldDefinition(field);
                if ((definition.Attributes & System.Reflection.FieldAttributes.Static) == 0)
                {
                    BlobReader blob = _md.GetBlobReader(definition.Signature);
                    blob.ReadSignatureHeader();
                    return (PrimitiveTypeCode)blob.ReadSignatureTypeCode();
                }
            }
            return null;
        }

        private string SerializedName(TypeDefinitionHandle handle)
        {
            TypeDefinition type = _md.GetTypeDefinition(handle);
            TypeDefinitionHandle declaring = type.GetDeclaringType();
            if (!declaring.IsNil)
            {
                return SerializedName(declaring) + "+" + _md.GetString(type.Name);
            }
            string ns = _md.GetString(type.Namespace);
            return ns.Length == 0 ? _md.GetString(type.Name) : ns + "." + _md.GetString(type.Name);
        }

        private bool IsCompilerGenerated(CustomAttributeHandle handle)
        {
            CustomAttribute attribute = _md.GetCustomAttribute(handle);
            EntityHandle type = attribute.Constructor.Kind switch
            {
                HandleKind.MemberReference => _md.GetMemberReference((MemberReferenceHandle)attribute.Constructor).Parent,
                HandleKind.MethodDefinition => _md.GetMethodDefinition((MethodDefinitionHandle)attribute.Constructor).GetDeclaringType(),
                _ => default,
            };
            StringHandle name = type.Kind switch
            {
                HandleKind.TypeReference => _md.GetTypeReference((TypeReferenceHandle)type).Name,
                HandleKind.TypeDefinition => _md.GetTypeDefinition((TypeDefinitionHandle)type).Name,
                _ => default,
            };
            return !name.IsNil && _md.StringComparer.Equals(name, "CompilerGeneratedAttribute");
        }
    }

    /// <summary>Collects the assembly's own types one type definition (with its members and bodies) refers to.</summary>
    private sealed class References(MetadataReader md, PEReader pe, TypeTable types) : ISignatureTypeProvider<SignatureType, object?>, ICustomAttributeTypeProvider<SignatureType>
    {
        private static readonly Dictionary<short, OperandType> Operands = typeof(OpCodes).GetFields()
            .Select(f => (OpCode)f.GetValue(null)!).ToDictionary(o => o.Value, o => o.OperandType);

        public HashSet<TypeDefinitionHandle> Found { get; } = [];

        public void AddType(TypeDefinitionHandle handle)
        {
            TypeDefinition type = md.GetTypeDefinition(handle);
            Add(type.BaseType);
            AddAttributes(type.GetCustomAttributes());
            AddGenericParameters(type.GetGenericParameters());
            foreach (InterfaceImplementationHandle implementation in type.GetInterfaceImplementations())
            {
                InterfaceImplementation definition = md.GetInterfaceImplementation(implementation);
                Add(definition.Interface);
                AddAttributes(definition.GetCustomAttributes());
            }
            foreach (FieldDefinitionHandle field in type.GetFields())
            {
                FieldDefinition definition = md.GetFieldDefinition(field);
                definition.DecodeSignature(this, null);
                AddAttributes(definition.GetCustomAttributes());
            }
            foreach (MethodDefinitionHandle method in type.GetMethods())
            {
                AddMethod(md.GetMethodDefinition(method));
            }
            foreach (PropertyDefinitionHandle property in type.GetProperties())
            {
                PropertyDefinition definition = md.GetPropertyDefinition(property);
                definition.DecodeSignature(this, null);
                AddAttributes(definition.GetCustomAttributes());
            }
            foreach (EventDefinitionHandle @event in type.GetEvents())
            {
                EventDefinition definition = md.GetEventDefinition(@event);
                Add(definition.Type);
                AddAttributes(definition.GetCustomAttributes());
            }
            foreach (MethodImplementationHandle implementation in type.GetMethodImplementations())
            {
                Add(md.GetMethodImplementation(implementation).MethodDeclaration);
            }
        }

        private void AddMethod(MethodDefinition method)
        {
            method.DecodeSignature(this, null);
            AddAttributes(method.GetCustomAttributes());
            AddGenericParameters(method.GetGenericParameters());
            foreach (ParameterHandle parameter in method.GetParameters())
            {
                AddAttributes(md.GetParameter(parameter).GetCustomAttributes());
            }
            if (method.RelativeVirtualAddress == 0)
            {
                return;
            }
            MethodBodyBlock body = pe.GetMethodBody(method.RelativeVirtualAddress);
            Add(body.LocalSignature);
            foreach (ExceptionRegion region in body.ExceptionRegions)
            {
                Add(region.CatchType);
            }
            BlobReader il = body.GetILReader();
            while (il.RemainingBytes > 0)
            {
                byte first = il.ReadByte();
                short code = first == 0xFE ? (short)(0xFE00 | il.ReadByte()) : first;
                switch (Operands[code])
                {
                    case OperandType.InlineField or OperandType.InlineMethod or OperandType.InlineSig or OperandType.InlineTok or OperandType.InlineType:
                        Add(MetadataTokens.EntityHandle(il.ReadInt32()));
                        break;
                    case OperandType.InlineNone:
                        break;
                    case OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar:
                        il.Offset += 1;
                        break;
                    case OperandType.InlineVar:
                        il.Offset += 2;
                        break;
                    case OperandType.InlineI8 or OperandType.InlineR:
                        il.Offset += 8;
                        break;
                    case OperandType.InlineSwitch:
                        int targets = il.ReadInt32();
                        il.Offset += 4 * targets;
                        break;
                    default:
                        il.Offset += 4; // InlineI, InlineBrTarget, InlineString, ShortInlineR
                        break;
                }
            }
        }

        private void AddGenericParameters(GenericParameterHandleCollection parameters)
        {
            foreach (GenericParameterHandle parameter in parameters)
            {
                GenericParameter definition = md.GetGenericParameter(parameter);
                AddAttributes(definition.GetCustomAttributes());
                foreach (GenericParameterConstraintHandle constraint in definition.GetConstraints())
                {
                    Add(md.GetGenericParameterConstraint(constraint).Type);
                }
            }
        }

        private void AddAttributes(CustomAttributeHandleCollection attributes)
        {
            foreach (CustomAttributeHandle handle in attributes)
            {
                CustomAttribute attribute = md.GetCustomAttribute(handle);
                Add(attribute.Constructor);
                attribute.DecodeValue(this); // typeof() and enum arguments name their types
            }
        }

        private void Add(EntityHandle handle)
        {
            if (handle.IsNil)
            {
                return;
            }
            switch (handle.Kind)
            {
                case HandleKind.TypeDefinition:
                    Found.Add((TypeDefinitionHandle)handle);
                    break;
                case HandleKind.TypeReference:
                    GetTypeFromReference(md, (TypeReferenceHandle)handle, 0);
                    break;
                case HandleKind.TypeSpecification:
                    md.GetTypeSpecification((TypeSpecificationHandle)handle).DecodeSignature(this, null);
                    break;
                case HandleKind.MethodDefinition:
                    MethodDefinition method = md.GetMethodDefinition((MethodDefinitionHandle)handle);
                    Found.Add(method.GetDeclaringType());
                    method.DecodeSignature(this, null);
                    break;
                case HandleKind.FieldDefinition:
                    FieldDefinition field = md.GetFieldDefinition((FieldDefinitionHandle)handle);
                    Found.Add(field.GetDeclaringType());
                    field.DecodeSignature(this, null);
                    break;
                case HandleKind.MemberReference:
                    MemberReference member = md.GetMemberReference((MemberReferenceHandle)handle);
                    Add(member.Parent);
                    if (member.GetKind() == MemberReferenceKind.Method)
                    {
                        member.DecodeMethodSignature(this, null);
                    }
                    else
                    {
                        member.DecodeFieldSignature(this, null);
                    }
                    break;
                case HandleKind.MethodSpecification:
                    MethodSpecification specification = md.GetMethodSpecification((MethodSpecificationHandle)handle);
                    Add(specification.Method);
                    specification.DecodeSignature(this, null);
                    break;
                case HandleKind.StandaloneSignature:
                    StandaloneSignature signature = md.GetStandaloneSignature((StandaloneSignatureHandle)handle);
                    if (signature.GetKind() == StandaloneSignatureKind.LocalVariables)
                    {
                        signature.DecodeLocalSignature(this, null);
                    }
                    else
                    {
                        signature.DecodeMethodSignature(this, null);
                    }
                    break;
            }
        }

        public SignatureType GetTypeFromDefinition(MetadataReader reader, TypeDefinitionHandle handle, byte rawTypeKind)
        {
            Found.Add(handle);
            return new SignatureType(handle, false);
        }

        public SignatureType GetTypeFromReference(MetadataReader reader, TypeReferenceHandle handle, byte rawTypeKind)
        {
            // A reference whose scope is this module (rare; some generators emit one) is one of its own types.
            TypeReference reference = md.GetTypeReference(handle);
            string ns = md.GetString(reference.Namespace), name = md.GetString(reference.Name);
            if (reference.ResolutionScope.Kind == HandleKind.ModuleDefinition && types.Find(ns, name) is TypeDefinitionHandle own)
            {
                return GetTypeFromDefinition(reader, own, rawTypeKind);
            }
            return new SignatureType(default, ns == "System" && name == "Type");
        }

        public SignatureType GetTypeFromSpecification(MetadataReader reader, object? genericContext, TypeSpecificationHandle handle, byte rawTypeKind) =>
            md.GetTypeSpecification(handle).DecodeSignature(this, genericContext);

        public SignatureType GetTypeFromSerializedName(string name)
        {
            if (types.FindSerialized(name) is TypeDefinitionHandle own)
            {
                Found.Add(own);
                return new SignatureType(own, false);
            }
            return default;
        }

        // An attribute's enum argument is as wide as its enum: known for the assembly's own enums; others here are int-based.
        public PrimitiveTypeCode GetUnderlyingEnumType(SignatureType type) =>
            type.Own.IsNil ? PrimitiveTypeCode.Int32 : types.EnumUnderlyingType(type.Own) ?? PrimitiveTypeCode.Int32;

        public bool IsSystemType(SignatureType type) => type.IsSystemType;

        public SignatureType GetSystemType() => new(default, true);

        public SignatureType GetPrimitiveType(PrimitiveTypeCode typeCode) => default;

        public SignatureType GetSZArrayType(SignatureType elementType) => default;

        public SignatureType GetArrayType(SignatureType elementType, ArrayShape shape) => default;

        public SignatureType GetByReferenceType(SignatureType elementType) => default;

        public SignatureType GetPointerType(SignatureType elementType) => default;

        public SignatureType GetPinnedType(SignatureType elementType) => default;

        public SignatureType GetGenericInstantiation(SignatureType genericType, ImmutableArray<SignatureType> typeArguments) => default;

        public SignatureType GetGenericMethodParameter(object? genericContext, int index) => default;

        public SignatureType GetGenericTypeParameter(object? genericContext, int index) => default;

        public SignatureType GetModifiedType(SignatureType modifier, SignatureType unmodifiedType, bool isRequired) => unmodifiedType;

        public SignatureType GetFunctionPointerType(MethodSignature<SignatureType> signature) => default;
    }

    /// <summary>A decoded type as far as this graph cares: which own type it is (if any), and whether it is System.Type (attribute blobs).</summary>
    private readonly record struct SignatureType(TypeDefinitionHandle Own, bool IsSystemType);
}

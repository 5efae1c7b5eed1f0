/// Joins a table of tensors along one dimension (Torch's nn.JoinTable(dimension [, nInputDims])):
/// y = [x₁, x₂, …] along `dimension` (1-based; negative counts from the last, -1 the last);
/// every other size must agree. With `nInputDims`, an input of nInputDims + 1 dimensions is a
/// batch and the dimension moves one up (`JoinTable(1, 3)` joins the channels of 3D images
/// and of 4D batches). ∂L/∂xᵢ is xᵢ's slice of ∂L/∂y.
public final class JoinTable: TableModule {
    public let dimension: Int
    public let nInputDims: Int?

    public init(_ dimension: Int, nInputDims: Int? = nil) throws {
        guard dimension != 0 else { throw EngineError("nn.JoinTable: dimension must be a nonzero integer (1-based, or negative from the last), got 0") }
        if let n = nInputDims, n < 1 { throw EngineError("nn.JoinTable: nInputDims must be at least 1, got \(n)") }
        self.dimension = dimension
        self.nInputDims = nInputDims
        super.init()
    }

    override public var typeName: String { "nn.JoinTable" }

    /// The 0-based dimension for inputs of `rank` dimensions.
    private func axis(rank: Int) throws -> Int {
        var d = dimension < 0 ? rank + dimension + 1 : dimension
        if dimension > 0, let n = nInputDims, rank == n + 1 { d += 1 }
        guard d >= 1 && d <= rank else {
            throw EngineError("\(description): dimension \(dimension) does not exist in \(rank)D inputs")
        }
        return d - 1
    }

    /// The inputs, the axis and the output shape, checked.
    private func geometry(_ input: Activation) throws -> (x: [Tensor], axis: Int, shape: [Int]) {
        let x = try input.tensors(for: description)
        let rank = x[0].dim
        let a = try axis(rank: rank)
        var shape = x[0].shape
        for (i, t) in x.enumerated().dropFirst() {
            var other = t.shape, mine = x[0].shape
            guard t.dim == rank else {
                throw EngineError("\(description): input \(i + 1) has size \(shapeString(t.shape)), input 1 has \(shapeString(x[0].shape)); they must have the same number of dimensions")
            }
            other[a] = 0; mine[a] = 0
            guard other == mine else {
                throw EngineError("\(description): input \(i + 1) has size \(shapeString(t.shape)), input 1 has \(shapeString(x[0].shape)); they may differ only in dimension \(a + 1)")
            }
            shape[a] += t.shape[a]
        }
        return (x, a, shape)
    }

    /// Copies blocks between each input and its slice of the joined tensor: outer × (size along
    /// the axis × inner) contiguous runs.
    private func transfer(_ x: [Tensor], _ joined: Tensor, axis: Int, intoJoined: Bool) {
        let outer = joined.shape[..<axis].reduce(1, *), inner = joined.shape[(axis + 1)...].reduce(1, *)
        let joinedRow = joined.shape[axis] * inner
        var offset = 0
        for t in x {
            let run = t.shape[axis] * inner
            for o in 0..<outer {
                let part = t.data + o * run, whole = joined.data + o * joinedRow + offset
                if intoJoined { whole.update(from: part, count: run) } else { part.update(from: whole, count: run) }
            }
            offset += run
        }
    }

    override public func updateOutput(_ input: Activation) throws -> Activation {
        let (x, a, shape) = try geometry(input)
        output.resize(shape)
        transfer(x, output, axis: a, intoJoined: true)
        return .tensor(output)
    }

    override public func updateGradInput(_ input: Activation, _ gradOutput: Activation) throws -> Activation {
        let (x, a, shape) = try geometry(input)
        let g = try gradientTensor(gradOutput, shape)
        transfer(gradientBuffers(x.map(\.shape)), g, axis: a, intoJoined: false)
        return tableGradInput
    }

    override public var spec: ModuleSpec {
        ModuleSpec(type: typeName, args: [Double(dimension)] + (nInputDims.map { [Double($0)] } ?? []))
    }
}

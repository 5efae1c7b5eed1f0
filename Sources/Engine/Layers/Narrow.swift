/// A slice along one dimension (Torch's nn.Narrow(dimension, offset [, length = 1])):
/// y = x[…, offset ..< offset + length, …] along `dimension` (1-based over the input's
/// dimensions, batch included; negative counts from the last). A negative length counts from
/// the end, as Torch: length = size − offset + length + 2 (-1: to the last entry).
/// ∂L/∂x is ∂L/∂y in the slice and 0 elsewhere.
public final class Narrow: Module {
    public let dimension: Int, offset: Int, length: Int

    public init(_ dimension: Int, _ offset: Int, _ length: Int = 1) throws {
        guard dimension != 0 else { throw EngineError("nn.Narrow: dimension must be a nonzero integer, got 0") }
        guard offset >= 1 else { throw EngineError("nn.Narrow: offset must be at least 1, got \(offset)") }
        guard length != 0 else { throw EngineError("nn.Narrow: length must be a nonzero integer, got 0") }
        self.dimension = dimension; self.offset = offset; self.length = length
        super.init()
    }

    override public var typeName: String { "nn.Narrow" }

    /// The 0-based axis, start and length for `input`, checked.
    private func slice(_ input: Tensor) throws -> (axis: Int, start: Int, length: Int) {
        let d = dimension < 0 ? input.dim + dimension : dimension - 1
        guard d >= 0 && d < input.dim else {
            throw EngineError("\(description): dimension \(dimension) does not exist in a \(input.dim)D input (\(shapeString(input.shape)))")
        }
        let size = input.shape[d]
        let n = length < 0 ? size - offset + length + 2 : length
        guard n >= 1 && offset - 1 + n <= size else {
            throw EngineError("\(description): entries \(offset)...\(offset - 1 + n) do not exist in dimension \(dimension) of size \(size) (input \(shapeString(input.shape)))")
        }
        return (d, offset - 1, n)
    }

    override public func updateOutput(_ input: Tensor) throws -> Tensor {
        let (a, start, n) = try slice(input)
        var shape = input.shape
        shape[a] = n
        output.resize(shape)
        let outer = input.shape[..<a].reduce(1, *), inner = input.shape[(a + 1)...].reduce(1, *)
        let row = input.shape[a] * inner, run = n * inner
        for o in 0..<outer { (output.data + o * run).update(from: input.data + o * row + start * inner, count: run) }
        return output
    }

    override public func updateGradInput(_ input: Tensor, _ gradOutput: Tensor) throws -> Tensor {
        let (a, start, n) = try slice(input)
        var shape = input.shape
        shape[a] = n
        guard gradOutput.shape == shape else {
            throw EngineError("\(description): gradOutput has size \(shapeString(gradOutput.shape)), the output \(shapeString(shape))")
        }
        gradInput.resize(input.shape)
        gradInput.zero()
        let outer = input.shape[..<a].reduce(1, *), inner = input.shape[(a + 1)...].reduce(1, *)
        let row = input.shape[a] * inner, run = n * inner
        for o in 0..<outer { (gradInput.data + o * row + start * inner).update(from: gradOutput.data + o * run, count: run) }
        return gradInput
    }

    override public var spec: ModuleSpec { ModuleSpec(type: typeName, args: [Double(dimension), Double(offset), Double(length)]) }
}

/// Base of the modules that take a table and have no parameters (nn.CAddTable,
/// nn.CMulTable, nn.JoinTable, nn.SelectTable): their input gradient is a table of the
/// input's structure; a tensor input is an error naming the module.
open class TableModule: Module {
    var tableGradInput: Activation = .table([])
    /// Entries of the last input table (what the forward cost counts).
    public internal(set) var lastInputCount = 0

    override open var usesTables: Bool { true }
    override open var activationGradInput: Activation { tableGradInput }

    override open func updateOutput(_ input: Tensor) throws -> Tensor {
        throw EngineError("\(description) takes a table, got a tensor of size \(shapeString(input.shape))")
    }
    override open func updateGradInput(_ input: Tensor, _ gradOutput: Tensor) throws -> Tensor {
        throw EngineError("\(description) takes a table, got a tensor of size \(shapeString(input.shape))")
    }

    /// A table module has no parameters.
    override open func accGradParameters(_ input: Activation, _ gradOutput: Activation, scale: Float) throws {}

    override open func clearState() {
        super.clearState()
        tableGradInput = .table([])
    }

    /// The input as a table of tensors of one shape, or an error naming the first that differs.
    func sameShapeTensors(_ input: Activation) throws -> [Tensor] {
        let x = try input.tensors(for: description)
        lastInputCount = x.count
        for (i, t) in x.enumerated().dropFirst() where t.shape != x[0].shape {
            throw EngineError("\(description): input \(i + 1) has size \(shapeString(t.shape)), input 1 has \(shapeString(x[0].shape)); the inputs must have one size")
        }
        return x
    }

    /// The gradOutput as a tensor of `shape`, or an error.
    func gradientTensor(_ gradOutput: Activation, _ shape: [Int]) throws -> Tensor {
        let g = try gradOutput.tensor(for: "\(description) gradOutput")
        guard g.shape == shape else {
            throw EngineError("\(description): gradOutput has size \(shapeString(g.shape)), the output \(shapeString(shape))")
        }
        return g
    }

    /// Buffers for a table gradient of `count` tensors, reused across calls when they fit.
    func gradientBuffers(_ shapes: [[Int]]) -> [Tensor] {
        var old = (try? tableGradInput.tensors(for: "")) ?? []
        if old.count != shapes.count { old = shapes.map { _ in Tensor() } }
        for (t, s) in zip(old, shapes) { t.resize(s) }
        tableGradInput = .table(old.map { .tensor($0) })
        return old
    }
}

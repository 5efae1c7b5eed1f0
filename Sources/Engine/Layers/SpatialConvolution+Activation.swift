/// A convolution followed by an elementwise activation f (nn.Tanh, nn.ReLU, nn.Sigmoid), and
/// by a 2x2 max pooling after it if there is one, in evaluation, in one pass (ONNX Runtime
/// fuses Conv and its activation too): the convolution's output y = conv(x) is computed as
/// `updateOutput` computes it, and the activation's output f(y) of each image, or block of
/// images, as soon as its y is written, while it is still in cache, then the pooling of that
/// f(y). Run one after the other, each would read the whole batch's outputs back (LeNet-5's
/// second layer writes 9.6 MB at batch 250, more than the L2 caches hold). f and the pooling
/// work plane by plane, so every module's output is that of its own pass, bit for bit;
/// `Sequential` takes this path for such a chain in evaluation.
extension SpatialConvolution {
    /// Whether `forward(_:then:pooling:)` applies to this layer followed by `next`: both in
    /// evaluation, `next` one of the activations the workbench defines (not a subclass from
    /// elsewhere).
    func fuses(_ next: Module) -> Bool {
        !isTraining && !next.isTraining && (next is Tanh || next is ReLU || next is Sigmoid)
    }

    /// `forward(input)`, then `activation.forward(output)`, then (when `pooling` takes the fused
    /// path for it, `pooled`) `pooling.forward(activation.output)`, in one pass over the images.
    func forward(_ input: Tensor, then activation: ElementwiseModule,
                 pooling: SpatialMaxPooling? = nil) throws -> (output: Tensor, pooled: Bool) {
        for p in parameters { try p.prepareForward(training: isTraining) }
        var pooled = false
        _ = try computeOutput(input, then: activation, pooling: pooling, pooled: &pooled)
        return pooled ? (pooling!.output, true) : (activation.output, false)
    }
}

/// What a convolution's forward pass does with a range of images whose outputs are complete:
/// with an activation, its output for them, f(y[b]) for b in the range, then with a fused
/// pooling that of f(y[b]); without, nothing.
struct ImagesFinished {
    private let activation: ElementwiseModule?
    private let y: UnsafeMutablePointer<Float>?, a: UnsafeMutablePointer<Float>?
    private let pooling: SpatialMaxPooling.FusedPooling?
    /// Outputs and planes per image.
    private let size: Int, planes: Int

    /// Sizes `activation`'s output as y (the convolution's output, sized already), and
    /// `pooling`'s when it takes the fused path (`pooled`).
    init(_ activation: ElementwiseModule?, pooling: SpatialMaxPooling?, y: Tensor, planes: Int, positions p: Int, pooled: inout Bool) {
        self.activation = activation
        size = planes * p
        self.planes = planes
        if let activation {
            _ = activation.output.resize(y.shape)
            self.y = y.data
            a = activation.output.data
            self.pooling = pooling?.fusedEvaluation(of: activation.output)
        } else {
            self.y = nil
            a = nil
            self.pooling = nil
        }
        pooled = self.pooling != nil
    }

    func callAsFunction(_ images: Range<Int>) {
        guard let activation, let y, let a, !images.isEmpty else { return }
        let o = images.lowerBound * size
        activation.apply(y + o, a + o, images.count * size)
        pooling?.pool(a, planes: (images.lowerBound * planes)..<(images.upperBound * planes))
    }
}
